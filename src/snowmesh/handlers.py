"""Import a domain's code from the project itself, with no reinstall.

* ``import_handler(root, "marketing.campaign_performance.build")`` -- a function of a module under
  ``<root>/procedures/``: the local walker, the contract gate and the scaffolded tests import
  handlers through it. The domain's package is loaded from the project's own ``procedures/``, so
  a domain added after ``pip install -e .`` is importable with no reinstall, and a package already
  imported from elsewhere (the install, another project: tests load several meshes in one
  process) is loaded again from this project.
* ``domain_module(domain, "sample")`` -- ``domains/<domain>/sample.py``, the domain's own client-side
  code (its sample-data generator). It is loaded from its file under a private name: it is not
  Snowflake code, so it is not importable as ``<domain>.sample`` and never shipped in a procedure.

The manifest loader has already checked, without running them, that these name a top-level
function of a file that exists (checks.handler_problem, checks.generator_problem).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from snowmesh.errors import InputError
from snowmesh.manifest.model import Domain

# Platform code under procedures/: imported once, never re-imported per project (its classes
# and module state are shared by everything already loaded).
_PLATFORM = frozenset({"governance"})


def _from_elsewhere(module: ModuleType, folder: Path) -> bool:
    """Imported from somewhere else than this project's procedures/ (a namespace package has only a __path__)."""
    places = [getattr(module, "__file__", None) or "", *getattr(module, "__path__", ())]
    return any(p and not Path(p).resolve().is_relative_to(folder) for p in places)


def _load_package(folder: Path, top: str) -> None:
    """Register ``<folder>/<top>`` as the package ``top``: its submodules then import from there.

    Done per package, not by putting procedures/ on sys.path: a path entry would outlive the
    command (and shadow other modules); a package entry only answers for its own name."""
    pkg = folder / top
    init = pkg / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(top, init, submodule_search_locations=[str(pkg)])
    else:  # a folder without __init__.py: a namespace package
        spec = importlib.machinery.ModuleSpec(top, None, is_package=True)
        spec.submodule_search_locations = [str(pkg)]
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[top] = module
    if spec.loader is not None:
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[top]
            raise


def import_module(root: Path | str, name: str) -> ModuleType:
    """``name`` (e.g. ``marketing.ad_clicks``) as the project under ``root`` has it."""
    folder = Path(root).resolve() / "procedures"
    top = name.split(".")[0]
    if top not in _PLATFORM and (folder / top).is_dir():
        current = sys.modules.get(top)
        if current is None or _from_elsewhere(current, folder):
            for k in [k for k in sys.modules if k == top or k.startswith(top + ".")]:
                del sys.modules[k]
            _load_package(folder, top)
    return importlib.import_module(name)


def import_handler(root: Path | str, dotted: str) -> Callable[..., Any]:
    """The function ``pkg.module.function`` from the project's ``procedures/``."""
    module, _, function = dotted.rpartition(".")
    return getattr(import_module(root, module), function)


_LOADED: dict[tuple[Path, float], ModuleType] = {}


def domain_module(domain: Domain, module: str) -> ModuleType:
    """``domains/<domain>/<module>.py`` of this domain, loaded from its file (cached until it changes)."""
    path = (domain.path.parent / f"{module}.py").resolve()
    try:
        key = (path, path.stat().st_mtime)
    except OSError:
        raise InputError(f"{domain.path.parent / (module + '.py')}: not found",
                         hint=f"{domain.name}'s manifest names it under sample.generator") from None
    if key not in _LOADED:
        name = f"_snowmesh_domain_{domain.name.lower()}_{module}_{abs(hash(path)):x}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod  # dataclasses and pickling look a module up by name
        spec.loader.exec_module(mod)
        _LOADED[key] = mod
    return _LOADED[key]
