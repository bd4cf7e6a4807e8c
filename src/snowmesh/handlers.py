"""Import a domain's code from the project itself, with no reinstall.

* ``import_handler(root, "marketing.campaign_performance.build")`` -- a function of a module under
  ``<root>/procedures/``: the local walker, the contract gate and ``mesh call`` import handlers
  through it. ``procedures/`` of the project goes first on ``sys.path`` so a domain added after
  ``pip install -e .`` is importable, and a module already imported from *another* project (the
  tests load several meshes in one process) is imported again from this one.
* ``domain_module(domain, "sample")`` -- ``domains/<domain>/sample.py``, the domain's own client-side
  code (its sample-data generator). It is loaded from its file under a private name: it is not
  Snowflake code, so it is not importable as ``<domain>.sample`` and never shipped in a procedure.

The manifest loader has already checked, without running them, that these name a top-level
function of a file that exists (checks.handler_problem, checks.generator_problem).
"""

from __future__ import annotations

import importlib
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


def use_procedures(root: Path | str) -> Path:
    """Put ``<root>/procedures`` first on ``sys.path`` (once) and return it."""
    folder = (Path(root).resolve() / "procedures")
    entry = str(folder)
    if sys.path[:1] != [entry]:
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)
        importlib.invalidate_caches()
    return folder


def _from_elsewhere(module: ModuleType, folder: Path) -> bool:
    """Imported from another project's procedures/ (a namespace package has only a __path__)."""
    places = [getattr(module, "__file__", None) or "", *getattr(module, "__path__", ())]
    return any(p and not Path(p).resolve().is_relative_to(folder) for p in places)


def import_module(root: Path | str, name: str) -> ModuleType:
    """``name`` (e.g. ``marketing.ad_clicks``) as the project under ``root`` has it."""
    folder = use_procedures(root)
    top = name.split(".")[0]
    if top not in _PLATFORM and (folder / top).is_dir():
        loaded = [m for k, m in sys.modules.items() if k == top or k.startswith(top + ".")]
        if any(_from_elsewhere(m, folder) for m in loaded):
            for k in [k for k in sys.modules if k == top or k.startswith(top + ".")]:
                del sys.modules[k]
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
