"""What code each procedure entity of ``snowflake.yml`` ships: its domain's folder and governance.

A domain's procedures (BUILD_<P>, RAW.INGEST, its analyst procedures) carry
``procedures/<domain>/*`` and ``procedures/governance/*``; a governance procedure carries
``procedures/governance/*`` only. No entity carries another domain's handlers (issue 13, item 6).

How snow CLI 3.x bundles them (read in snowflake-cli's ``_plugins/snowpark``:
``snowpark_project_paths.Artifact``, ``common.zip_and_copy_artifacts_to_deploy``,
``zipper.zip_dir_using_bundle_map``):

- **The import path.** With the ``enable_snowpark_glob_support`` feature, an artifact
  ``procedures/marketing/*`` becomes ``output/bundle/snowpark/procedures/marketing.zip`` whose
  entries are the source paths minus their first folder (``marketing/campaign_performance.py``),
  uploaded to ``@<stage>/procedures/`` and listed in the procedure's IMPORTS. Snowflake puts each
  imported zip on the handler's import path, so ``marketing.campaign_performance.build`` and
  ``governance.ingest.ingest`` resolve as they do locally (the Snowpark docs on imports: "a
  compressed file (e.g., .zip file) containing Python modules",
  https://docs.snowflake.com/en/developer-guide/snowpark/reference/python/latest/api/snowflake.snowpark.stored_procedure.StoredProcedureRegistration.register_from_file).
  No ``dest`` is needed: it only picks the stage folder, never the paths inside the zip.
- **Why a glob, and the feature.** Without the feature (the 3.30 default) a directory artifact
  ``procedures/marketing/`` is zipped *from inside* (``campaign_performance.py`` at the zip's
  root), so ``import marketing`` would fail only when the procedure is CALLed. A glob artifact is
  refused outright by that old build ("you need to enable the Snowpark new build feature flag"),
  so a build without the feature fails at once instead of shipping unimportable code. Enable it
  with ``GLOB_FEATURE_ENV=true`` (or ``[cli.features] enable_snowpark_glob_support = true`` in
  snow's config.toml) for ``snow snowpark build`` and ``snow snowpark deploy`` (docs/shipping.md).

Pure: reads the handlers' source (``ast``, never imported), returns values.
"""

from __future__ import annotations

import ast
from pathlib import Path

from snowmesh.errors import InputError

PROCEDURES_DIR = "procedures"
GOVERNANCE = "governance"  # procedures/governance/: the shared code every procedure may import
GLOB_FEATURE_ENV = "SNOWFLAKE_CLI_FEATURES_ENABLE_SNOWPARK_GLOB_SUPPORT"
BUNDLE_ROOT = "output/bundle/snowpark"  # where snow snowpark build writes the zips (gitignored output/)


def bundled_zip(folder: str) -> str:
    """The zip ``snow snowpark build`` writes for the artifact ``procedures/<folder>/*``."""
    return f"{BUNDLE_ROOT}/{PROCEDURES_DIR}/{folder}.zip"


def artifact(folder: str) -> str:
    return f"{PROCEDURES_DIR}/{folder}/*"


def _local_imports(source: Path, procs: Path, seen: set[Path]) -> dict[str, Path]:
    """``{top-level folder under procedures/: the file that imports it}`` for every module
    ``source`` imports from procedures/, following those modules' own imports."""
    if source in seen or not source.is_file():
        return {}
    seen.add(source)
    local = {p.name for p in procs.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    found: dict[str, Path] = {}
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), str(source))):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue  # a relative import stays inside its own folder
        for m in modules:
            top = m.split(".")[0]
            if top not in local:
                continue
            found.setdefault(top, source)
            path = procs.joinpath(*m.split("."))
            for nxt in (path.with_suffix(".py"), path / "__init__.py"):
                for k, v in _local_imports(nxt, procs, seen).items():
                    found.setdefault(k, v)
    return found


def procedure_artifacts(root: Path, domain: str | None, key: str, handler: str) -> list[str]:
    """The artifacts of one procedure entity: ``procedures/<domain>/*`` (when the folder exists)
    and ``procedures/governance/*``; governance only for a governance procedure (``domain`` None).

    A handler outside those folders, or one whose code imports another domain's folder, would be
    unimportable once deployed (its entity does not ship that folder): an InputError naming the
    file, raised by ``mesh derive`` before anything is written."""
    procs = root / PROCEDURES_DIR
    own = domain.lower() if domain else None
    allowed = [f for f in (own, GOVERNANCE) if f]
    module = handler.rsplit(".", 1)[0]
    top = module.split(".")[0]
    if top not in allowed:
        raise InputError(
            f"snowflake.yml entity {key}: handler {handler} is not in {' or '.join(f'{PROCEDURES_DIR}/{f}/' for f in allowed)}",
            hint=f"a {domain or 'governance'} procedure ships only those folders; move the handler there",
        )
    source = procs.joinpath(*module.split(".")).with_suffix(".py")
    if not source.is_file():
        source = procs.joinpath(*module.split("."), "__init__.py")
    for folder, where in sorted(_local_imports(source, procs, set()).items()):
        if folder not in allowed:
            raise InputError(
                f"{where.relative_to(root)}: imports {PROCEDURES_DIR}/{folder}/, which entity {key} does not ship "
                f"(it ships {', '.join(f'{PROCEDURES_DIR}/{f}/' for f in allowed)})",
                hint="a domain's code imports only its own folder and governance: read another domain's "
                "published view instead, or move shared code to procedures/governance/ (docs/add-a-domain.md)",
            )
    # The domain's folder even for its INGEST (governance code): one pair of zips per domain stage.
    return [artifact(f) for f in allowed if f == GOVERNANCE or (procs / f).is_dir()]
