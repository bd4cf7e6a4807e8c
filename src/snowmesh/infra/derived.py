"""Every file derived from the manifests, rendered in one place: ``mesh derive [--check]``.

| file | rendered by |
| --- | --- |
| ``snowflake.yml`` | snowmesh.deploy.project_file (procedures, the application, and the Streamlit entity's domain manifests) |
| ``terraform/domains.auto.tfvars.json`` | snowmesh.infra.tfvars |
| ``terraform/terraform.tfvars.example`` | here: one ``domain_team_principal_arns`` line per domain |

``derived_files(mesh)`` returns ``{path under root: rendered text}``; ``stale(mesh)`` the unified
diff of each file whose committed text differs. A new domain therefore needs one command,
``mesh derive``, and CI's ``mesh derive --check`` fails (exit 1, with the diff) until it ran.
Pure apart from reading the committed files.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from snowmesh.manifest.model import Mesh

EXAMPLE = Path("terraform") / "terraform.tfvars.example"
_BLOCK = re.compile(r"^domain_team_principal_arns = \{\n(?P<body>(?:.*\n)*?)\}\n", re.MULTILINE)
_LINE = re.compile(r'^\s*(?P<key>[A-Z_][A-Z0-9_$]*)\s*=\s*"(?P<arn>[^"]*)"\s*$')


def _placeholder(domain: str) -> str:
    """An example ARN (the account id is AWS's documentation placeholder) the team replaces."""
    return f"arn:aws:iam::123456789012:role/{domain.lower().replace('_', '-')}-data-team"


def render_example(mesh: Mesh, text: str) -> str:
    """The example variables with exactly one principal per domain: existing lines kept, a
    placeholder for a new domain, a removed domain's line dropped; ``=`` aligned as terraform fmt does."""
    m = _BLOCK.search(text)
    if m is None:
        raise ValueError(f"{EXAMPLE}: no `domain_team_principal_arns = {{ ... }}` block to keep in step")
    known = {x.group("key"): x.group("arn") for x in map(_LINE.match, m.group("body").splitlines()) if x}
    names = sorted(d.name for d in mesh.domains)
    width = max(len(n) for n in names) if names else 0
    body = "".join(f'  {n.ljust(width)} = "{known.get(n, _placeholder(n))}"\n' for n in names)
    return text[: m.start("body")] + body + text[m.end("body"):]


def derived_files(mesh: Mesh) -> dict[Path, str]:
    from snowmesh.deploy.project_file import PROJECT_FILE, read_existing, render_text
    from snowmesh.infra.tfvars import TFVARS_PATH, render_tfvars_json

    out: dict[Path, str] = {Path(PROJECT_FILE): render_text(mesh, read_existing(mesh.root)[1]),
                            TFVARS_PATH: render_tfvars_json(mesh)}
    example = mesh.root / EXAMPLE
    if example.is_file():
        out[EXAMPLE] = render_example(mesh, example.read_text(encoding="utf-8"))
    return out


def stale(mesh: Mesh) -> dict[Path, str]:
    """``{path: unified diff}`` of every derived file that is not what the manifests render."""
    diffs = {}
    for rel, want in derived_files(mesh).items():
        path = mesh.root / rel
        have = path.read_text(encoding="utf-8") if path.is_file() else ""
        if have != want:
            diffs[rel] = "".join(difflib.unified_diff(have.splitlines(True), want.splitlines(True),
                                                      f"{rel} (committed)", f"{rel} (rendered)"))
    return diffs


def write(mesh: Mesh) -> list[Path]:
    """Write every stale derived file; return the ones written."""
    written = []
    for rel, want in derived_files(mesh).items():
        path = mesh.root / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != want:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(want, encoding="utf-8")
            written.append(rel)
    return written
