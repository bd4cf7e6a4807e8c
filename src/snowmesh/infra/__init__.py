"""Infrastructure inputs derived from the manifests: the Terraform variables file.

Run ``python -m snowmesh.infra.tfvars`` to regenerate ``terraform/domains.auto.tfvars.json``
(``--check`` fails when the committed file is stale).
"""

from __future__ import annotations

from typing import Any

__all__ = ["TFVARS_PATH", "render_tfvars", "render_tfvars_json", "write_tfvars"]


def __getattr__(name: str) -> Any:
    # Lazy, so that ``python -m snowmesh.infra.tfvars`` does not import the module twice.
    if name in __all__:
        from snowmesh.infra import tfvars

        return getattr(tfvars, name)
    raise AttributeError(name)
