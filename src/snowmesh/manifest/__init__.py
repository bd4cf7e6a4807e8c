"""Domain manifests: typed model, JSON Schema validation and cross-domain checks."""

from snowmesh.manifest.loader import load_mesh
from snowmesh.manifest.model import Column, Domain, Mesh, Product, Source, Warehouse

__all__ = ["Column", "Domain", "Mesh", "Product", "Source", "Warehouse", "load_mesh"]
