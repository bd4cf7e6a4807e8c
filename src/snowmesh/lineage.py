"""The product graph: S3 prefix -> raw table -> published view -> consumer product.

Pure: derived from the manifests and each handler module's ``INPUTS``/``OUTPUT`` declarations,
read with ``ast`` by :mod:`snowmesh.access.procs` (no project code is imported). Nodes are
named by what they are in the account (``DB.SCHEMA.OBJECT``) or in S3 (``s3://bucket/prefix/``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from snowmesh.access.procs import manifest_inputs, read_declaration
from snowmesh.federation import target_view
from snowmesh.manifest.model import PRODUCTS, RAW, Mesh, Product

SOURCE, RAW_TABLE, PRODUCT = "source", "raw", "product"


@dataclass(frozen=True)
class Node:
    id: str  # DB.SCHEMA.OBJECT, or s3://bucket/prefix/
    kind: str  # source | raw | product
    domain: str
    product: str = ""  # DOMAIN.PRODUCT for product nodes

    @property
    def safe_id(self) -> str:
        """An id Mermaid and DOT accept unquoted: kind plus the name with every other char as _."""
        return f"{self.kind}_" + re.sub(r"[^A-Za-z0-9_]", "_", self.id.removeprefix("s3://"))


@dataclass(frozen=True)
class Edge:
    src: str  # Node.id
    dst: str


@dataclass
class Lineage:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    # Handler declarations that disagree with the manifest (the access audit fails on them too).
    warnings: list[str] = field(default_factory=list)
    # Published view id -> where it is federated (snowmesh.federation.target_view). Not graph
    # edges: the copies live outside the account, and impact/audit walk only the account's graph.
    federation: dict[str, list[str]] = field(default_factory=dict)

    def add_node(self, node: Node) -> None:
        self.nodes.setdefault(node.id, node)

    def add_edge(self, src: str, dst: str) -> None:
        edge = Edge(src, dst)
        if edge not in self.edges:
            self.edges.append(edge)

    def edge_set(self) -> set[tuple[str, str]]:
        return {(e.src, e.dst) for e in self.edges}

    def downstream(self, node_id: str) -> list[str]:
        """Every node reachable from ``node_id``, breadth first."""
        seen: list[str] = []
        frontier = [node_id]
        while frontier:
            nxt = [e.dst for e in self.edges if e.src in frontier and e.dst not in seen]
            seen += [n for n in dict.fromkeys(nxt)]
            frontier = nxt
        return seen

    def to_text(self) -> str:
        lines = []
        for kind in (SOURCE, RAW_TABLE, PRODUCT):
            for n in (n for n in self.nodes.values() if n.kind == kind):
                outs = [e.dst for e in self.edges if e.src == n.id]
                lines.append(f"{n.id}  [{n.kind}, {n.domain}]")
                lines += [f"  -> {o}" for o in outs]
                lines += [f"  => {t} (federated)" for t in self.federation.get(n.id, ())]
        return "\n".join(lines) + "\n"

    def to_mermaid(self) -> str:
        shapes = {SOURCE: ('[/"', '"/]'), RAW_TABLE: ('[("', '")]'), PRODUCT: ('(["', '"])')}
        lines = ["flowchart LR"]
        for domain in dict.fromkeys(n.domain for n in self.nodes.values()):
            lines.append(f"  subgraph {domain}")
            for n in (n for n in self.nodes.values() if n.domain == domain):
                left, right = shapes[n.kind]
                # Names are plain identifiers, bucket names and prefixes: no quote can occur.
                lines.append(f"    {n.safe_id}{left}{n.id}{right}")
            lines.append("  end")
        lines += [f"  {self.nodes[e.src].safe_id} --> {self.nodes[e.dst].safe_id}" for e in self.edges]
        lines += [f"  %% federated: {v} to {t}" for v, ts in self.federation.items() for t in ts]
        return "\n".join(lines) + "\n"

    def to_dot(self) -> str:
        """Graphviz DOT, one cluster and one colour per domain, by its place in the mesh's domain order.

        The colours are Graphviz's own ColorBrewer schemes (dark28 for a domain's frame and name,
        pastel28 for its nodes' fill: https://graphviz.org/doc/info/colors.html#brewer), so the
        text names no colour of its own; past eight domains the colours repeat."""
        shapes = {SOURCE: "folder", RAW_TABLE: "box", PRODUCT: "ellipse"}
        lines = ["digraph lineage {", "  rankdir=LR;", '  node [colorscheme=pastel28, style=filled];']
        for i, domain in enumerate(dict.fromkeys(n.domain for n in self.nodes.values())):
            colour = i % 8 + 1
            lines.append(f'  subgraph cluster_{i} {{ label="{_dot_escape(domain)}"; colorscheme=dark28; '
                         f'color={colour}; fontcolor={colour}; penwidth=2;')
            for n in (n for n in self.nodes.values() if n.domain == domain):
                lines.append(f'    {n.safe_id} [label="{_dot_escape(n.id)}", shape={shapes[n.kind]}, fillcolor={colour}];')
            lines.append("  }")
        lines += [f"  {self.nodes[e.src].safe_id} -> {self.nodes[e.dst].safe_id};" for e in self.edges]
        lines += [f"  // federated: {v} to {t}" for v, ts in self.federation.items() for t in ts]
        lines.append("}")
        return "\n".join(lines) + "\n"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def view_id(mesh: Mesh, p: Product) -> str:
    return f"{mesh.domain(p.domain).database}.{PRODUCTS}.{p.view}"


def build_lineage(mesh: Mesh) -> Lineage:
    """The graph the manifests and handler declarations imply (InputError on an unreadable handler)."""
    g = Lineage()
    for d in mesh.domains:
        for s in d.sources:
            raw = f"{d.database}.{RAW}.{s.name}"
            src = f"s3://{d.bucket}/{s.prefix}/"
            g.add_node(Node(src, SOURCE, d.name))
            g.add_node(Node(raw, RAW_TABLE, d.name))
            g.add_edge(src, raw)
    views = {(mesh.domain(p.domain).database, PRODUCTS, p.view): p for p in mesh.products}
    for p in mesh.products_in_order():
        g.add_node(Node(view_id(mesh, p), PRODUCT, p.domain, p.key))
        if p.federation:
            g.federation[view_id(mesh, p)] = [target_view(p, f) for f in p.federation]
    for p in mesh.products_in_order():
        decl = read_declaration(mesh, p)
        declared, expected = set(decl.inputs), manifest_inputs(mesh, p)
        if declared != expected:
            g.warnings.append(
                f"{decl.file}: INPUTS {sorted('.'.join(i) for i in declared)} differ from the manifest's "
                f"{sorted('.'.join(i) for i in expected)}"
            )
        # Declared inputs are what the code reads; a manifest-only input still shows (it is granted).
        for db, schema, name in sorted(declared | expected):
            src = f"{db}.{schema}.{name}"
            if src not in g.nodes:
                owner = views[(db, schema, name)].domain if (db, schema, name) in views else p.domain
                g.add_node(Node(src, RAW_TABLE if schema == RAW else PRODUCT, owner))
            g.add_edge(src, view_id(mesh, p))
    return g


__all__ = ["Edge", "Lineage", "Node", "build_lineage", "view_id"]
