"""The lineage picture: one graph model, one legible DOT renderer, and a focus (the zoom).

The graph comes from ``snowmesh.lineage`` where the package is importable (locally), else from
the domain manifests read as YAML (Streamlit in Snowflake ships only the manifests): both give
the same nodes (``DB.SCHEMA.OBJECT`` or ``s3://bucket/prefix/``) and edges, so the picture is
the same in both places (tests/test_streamlit_app.py compares them).

Legible at the page width: the page's column is about 1240 px at a 1400 px window, and Streamlit
shrinks a wider SVG to fit, so a node shows only its short name over what it is (``AD_CLICKS``
over "raw table"; the database and bucket are said once, in the domain's cluster label; the full
name is the tooltip), and the graph flows left to right, which keeps its width to the few ranks
of the mesh (source, raw, product, consumer product) instead of the sum of every long name. Each domain gets one colour from the page's qualitative palette, by its place in the
domain list (the manifests' order), never by its name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh_page.presentation import colours, tint

SOURCE, RAW_TABLE, PRODUCT = "source", "raw", "product"  # the kinds snowmesh.lineage uses
SHAPES = {SOURCE: "folder", RAW_TABLE: "box", PRODUCT: "box"}
STYLES = {SOURCE: "filled", RAW_TABLE: "filled", PRODUCT: "rounded,filled,bold"}
KIND_WORDS = {SOURCE: "S3 prefix", RAW_TABLE: "raw table", PRODUCT: "published view"}
# Font sizes in SVG units (points). Drawn at its natural size a point is 4/3 px, so the smaller
# line is ~16 px; the test measures the rendered size in Chromium (>= 11 px at 1400 px).
NAME_PT, CONTAINER_PT, CLUSTER_PT = 14, 12, 16


@dataclass(frozen=True)
class PageNode:
    id: str  # DB.SCHEMA.OBJECT or s3://bucket/prefix/
    kind: str  # source | raw | product
    domain: str


@dataclass
class PageGraph:
    nodes: dict[str, PageNode] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def add(self, node: PageNode) -> None:
        self.nodes.setdefault(node.id, node)

    def link(self, src: str, dst: str) -> None:
        if (src, dst) not in self.edges:
            self.edges.append((src, dst))

    def domains(self) -> list[str]:
        return list(dict.fromkeys(n.domain for n in self.nodes.values()))


def from_lineage(lineage: Any) -> PageGraph:
    """snowmesh.lineage.Lineage -> PageGraph (attributes only: the page imports no snowmesh types)."""
    g = PageGraph()
    for n in lineage.nodes.values():
        g.add(PageNode(n.id, n.kind, n.domain))
    for e in lineage.edges:
        g.link(e.src, e.dst)
    return g


def from_manifests(manifests: list[dict]) -> PageGraph:
    """The same graph from the domain.yml documents: S3 prefix -> raw table -> view -> consumer's view."""
    by_name = {str(m["name"]): m for m in manifests}
    g = PageGraph()
    for m in manifests:
        name, db = str(m["name"]), str(m["database"])
        bucket = (m.get("landing") or {}).get("bucket", "")
        for s in m.get("sources") or []:
            src, raw = f"s3://{bucket}/{s['prefix']}/", f"{db}.RAW.{s['name']}"
            g.add(PageNode(src, SOURCE, name))
            g.add(PageNode(raw, RAW_TABLE, name))
            g.link(src, raw)
    for m in manifests:
        for p in m.get("products") or []:
            g.add(PageNode(_view_id(m, p), PRODUCT, str(m["name"])))
    for m in manifests:
        name, db = str(m["name"]), str(m["database"])
        for p in m.get("products") or []:
            view = _view_id(m, p)
            for ref in sorted(str(i) for i in p.get("inputs") or []):
                ns, obj = ref.split(".", 1)
                if ns == "RAW":
                    src = f"{db}.RAW.{obj}"
                    g.add(PageNode(src, RAW_TABLE, name))
                elif ns in by_name:
                    up = next((q for q in by_name[ns].get("products") or [] if q["name"] == obj), None)
                    if up is None:
                        continue
                    src = _view_id(by_name[ns], up)
                else:
                    continue
                g.link(src, view)
    return g


def _view_id(manifest: dict, product: dict) -> str:
    major = Path(str(product["contract"])).stem.lstrip("v")
    return f"{manifest['database']}.PRODUCTS.{product['name']}_V{major}"


def focus(graph: PageGraph, domain: str | None) -> PageGraph:
    """The zoom: one domain's nodes and the nodes of other domains one edge away (what it reads, who reads it)."""
    if domain is None:
        return graph
    mine = {i for i, n in graph.nodes.items() if n.domain == domain}
    keep = mine | {s for s, d in graph.edges if d in mine} | {d for s, d in graph.edges if s in mine}
    g = PageGraph()
    for i, n in graph.nodes.items():
        if i in keep:
            g.add(n)
    for s, d in graph.edges:
        if s in keep and d in keep and (s in mine or d in mine):
            g.link(s, d)
    return g


# Left to right, the picture is as wide as its longest path. Measured in headless Chromium at
# 1400 px (tests/test_streamlit_screenshot.py): 5 ranks (a source, its raw table and three
# chained products, 23-character names) keep the smallest text at ~12 px; 7 ranks fall to ~8 px.
LEGIBLE_RANKS = 5


def ranks(graph: PageGraph) -> int:
    """Nodes on the longest path (the graph is acyclic: products are built in dependency order)."""
    incoming: dict[str, list[str]] = {i: [] for i in graph.nodes}
    for s, d in graph.edges:
        if s in incoming and d in incoming:
            incoming[d].append(s)
    depth: dict[str, int] = {}

    def walk(node: str, seen: frozenset[str]) -> int:
        if node not in depth:
            ups = [u for u in incoming[node] if u not in seen]  # a cycle cannot loop forever
            depth[node] = 1 + max((walk(u, seen | {node}) for u in ups), default=0)
        return depth[node]

    return max((walk(i, frozenset()) for i in graph.nodes), default=0)


def split_label(node: PageNode) -> tuple[str, str]:
    """(name, container): 'AD_CLICKS' in 'MARKETING_DB'; 'ad_clicks/' in 's3://bucket/'."""
    if node.kind == SOURCE:
        body = node.id.removeprefix("s3://").rstrip("/")
        bucket, _, prefix = body.partition("/")
        return (prefix + "/", f"s3://{bucket}/") if prefix else (node.id, "S3")
    container, _, name = node.id.rpartition(".")
    return name, container.split(".", 1)[0]


def to_dot(graph: PageGraph, domain_order: list[str]) -> str:
    """Graphviz DOT, left to right, one cluster and one colour per domain.

    A node shows its short name over what it is ("raw table"); its database and bucket are
    said once, in its domain's cluster label, and its full name is its tooltip: the long
    qualified names made every node, and so the picture, too wide to read at the page width.
    """
    palette = colours([*domain_order, *graph.domains()])
    ids = {node_id: f"n{i}" for i, node_id in enumerate(graph.nodes)}
    lines = [
        "digraph lineage {",
        '  rankdir=LR; nodesep=0.25; ranksep=0.45; bgcolor="transparent";',
        f'  node [fontname="Helvetica", fontsize={NAME_PT}, margin="0.12,0.06", penwidth=1.4];',
        '  edge [color="#555555", arrowsize=0.7];',
    ]
    for i, domain in enumerate(d for d in palette if d in graph.domains()):
        colour = palette[domain]
        mine = [(node_id, n) for node_id, n in graph.nodes.items() if n.domain == domain]
        containers = " · ".join(dict.fromkeys(split_label(n)[1] for _, n in sorted(mine, key=lambda x: x[1].kind)))
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(f'    label=<<B>{_html(domain)}</B><BR ALIGN="LEFT"/><FONT POINT-SIZE="{CONTAINER_PT}">'
                     f'{_html(containers)}</FONT><BR ALIGN="LEFT"/>>; labeljust=l; fontname="Helvetica"; '
                     f'fontsize={CLUSTER_PT}; fontcolor="{colour}"; color="{colour}"; penwidth=2; style=rounded;')
        for node_id, n in mine:
            name, _ = split_label(n)
            kind = KIND_WORDS.get(n.kind, n.kind)
            label = (f'<<B>{_html(name)}</B><BR ALIGN="LEFT"/><FONT POINT-SIZE="{CONTAINER_PT}" COLOR="#333333">'
                     f'{_html(kind)}</FONT><BR ALIGN="LEFT"/>>')
            tooltip = _dot_escape(f"{n.id} ({kind}, {n.domain})")
            lines.append(f'    {ids[node_id]} [label={label}, shape={SHAPES.get(n.kind, "box")}, '
                         f'style="{STYLES.get(n.kind, "filled")}", color="{colour}", fillcolor="{tint(colour)}", '
                         f'tooltip="{tooltip}"];')
        lines.append("  }")
    lines += [f"  {ids[s]} -> {ids[d]};" for s, d in graph.edges if s in ids and d in ids]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def lineage_graph(manifests: list[dict], project: Path | None) -> tuple[PageGraph, str]:
    """(graph, where it came from): snowmesh.lineage when importable, else the manifests."""
    if project is not None:
        try:
            from snowmesh.lineage import build_lineage  # type: ignore[import-not-found]
            from snowmesh.manifest import load_mesh

            return from_lineage(build_lineage(load_mesh(project))), "snowmesh.lineage"
        except Exception as exc:  # noqa: BLE001 - not there (Snowflake) or not usable: the manifests draw it
            return from_manifests(manifests), f"the domain manifests (page fallback: {type(exc).__name__})"
    return from_manifests(manifests), "the domain manifests (page fallback)"
