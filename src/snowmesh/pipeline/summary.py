"""The end-of-run summary: loads, products, contract status, and the top campaigns by ROI."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from governance.sql import fqn
from snowmesh.generate import LandedFile
from snowmesh.manifest.model import PRODUCTS, Mesh
from snowmesh.pipeline.runner import RunReport
from snowmesh.target import Target

ROI_PRODUCT = "FINANCE.CAMPAIGN_ROI"


@dataclass(frozen=True)
class RoiRow:
    campaign_id: str
    campaign_name: str
    channel: str
    revenue: Decimal
    spend: Decimal
    roi: Decimal | None
    roas: Decimal | None


def top_roi(target: Target, mesh: Mesh, limit: int = 10) -> list[RoiRow]:
    """Top campaigns by ROI over the whole period, aggregated in the warehouse from the published view."""
    try:
        p = mesh.product(ROI_PRODUCT)
    except KeyError:
        return []
    view = fqn(mesh.domain(p.domain).database, PRODUCTS, p.view)
    exists = target.sql(
        f"SELECT COUNT(*) FROM {fqn(mesh.domain(p.domain).database, 'INFORMATION_SCHEMA', 'VIEWS')} "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (PRODUCTS, p.view),
    )[0][0]
    if not exists:
        return []
    # Cast the sums: fakesnow sums NUMBER(16,2) as DOUBLE; Snowflake keeps NUMBER either way.
    rows = target.sql(
        'SELECT "CAMPAIGN_ID", MAX("CAMPAIGN_NAME"), MAX("CHANNEL"), REV, SPEND, '
        "(REV - SPEND) / NULLIF(SPEND, 0) AS ROI, REV / NULLIF(SPEND, 0) AS ROAS FROM ("
        'SELECT "CAMPAIGN_ID", MAX("CAMPAIGN_NAME") AS "CAMPAIGN_NAME", MAX("CHANNEL") AS "CHANNEL", '
        'SUM("REVENUE_USD")::NUMBER(18,2) AS REV, SUM("SPEND_USD")::NUMBER(18,2) AS SPEND '
        f'FROM {view} GROUP BY "CAMPAIGN_ID") GROUP BY "CAMPAIGN_ID", REV, SPEND '
        f'ORDER BY ROI DESC NULLS LAST, "CAMPAIGN_ID" LIMIT {int(limit)}'
    )
    return [RoiRow(*r) for r in rows]


def summary_dict(report: RunReport, landed: list[LandedFile], roi: list[RoiRow]) -> dict[str, Any]:
    """What :func:`render_summary` shows, as data: ``mesh run --format json`` (docs/cli-json.md)."""
    generated: dict[str, int] = defaultdict(int)
    for f in landed:
        generated[f.source] += f.rows
    return {
        "run_id": report.run_id,
        "ok": report.ok,
        "deploy": None if report.deploy is None else {  # the keys of `mesh deploy --format json`
            "executed": report.deploy.executed, "recorded": report.deploy.recorded,
            "already_recorded": report.deploy.already_recorded, "terraform_left_out": report.deploy.terraforms},
        "loads": [{
            "domain": l.domain, "source": l.source, "rows_generated": generated.get(l.source, 0),
            "files_new": l.files_new, "files_skipped": l.files_skipped, "files_rejected": l.files_rejected,
            "rows_landed": l.rows_landed, "rows_loaded": l.rows_loaded, "rows_quarantined": l.rows_quarantined,
            "rows_rejected": l.rows_rejected, "rejected": dict(l.rejected),
        } for l in report.loads],
        "products": [asdict(o) for o in report.products.values()],
        "top_roi": [asdict(r) for r in roi],
        "tasks": [asdict(t) for t in report.tasks],
    }


def _fmt(v: object, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{float(v):.1%}" if pct else f"{float(v):,.2f}"


def render_summary(console: Console, report: RunReport, landed: list[LandedFile], roi: list[RoiRow]) -> None:
    generated: dict[str, int] = defaultdict(int)
    for f in landed:
        generated[f.source] += f.rows
    loads = Table(title=f"Ingestion (run {report.run_id})")
    for col in ("domain", "source", "files new", "files skipped", "rows landed", "loaded", "quarantined",
                "rejected files (lines)"):
        loads.add_column(col, justify="right" if col not in ("domain", "source") else "left")
    for l in report.loads:
        loads.add_row(l.domain, l.source, str(l.files_new), str(l.files_skipped), f"{l.rows_landed:,}",
                      f"{l.rows_loaded:,}", f"{l.rows_quarantined:,}", f"{l.files_rejected:,} ({l.rows_rejected:,})")
    console.print(loads)
    for l in report.loads:  # a rejected file is recorded and not retried: say which, and why
        for file, reason in l.rejected.items():
            console.print(f"[yellow]rejected[/] {escape(f'{l.domain}.{l.source} {file}: {reason}')}")

    products = Table(title="Data products")
    for col in ("product", "staged rows", "contract", "published", "rows serving", "note"):
        products.add_column(col)
    for key, o in report.products.items():
        contract = "-" if o.validation_passed is None else ("[green]passed[/]" if o.validation_passed else "[red]FAILED[/]")
        # Text, not markup: a check's message may hold "[...]" that Rich would take for a tag and drop.
        note = Text("; ".join(o.failed_checks)[:80] if o.failed_checks else "")
        products.add_row(key, _fmt_int(o.staged_rows), contract, "yes" if o.published else "[red]no[/]",
                         _fmt_int(o.published_rows), note)
    console.print(products)

    if roi:
        t = Table(title="Top campaigns by ROI (FINANCE.CAMPAIGN_ROI_V1, whole period)")
        for col in ("campaign", "name", "channel", "revenue USD", "spend USD", "ROI", "ROAS"):
            t.add_column(col, justify="right" if col in ("revenue USD", "spend USD", "ROI", "ROAS") else "left")
        for r in roi:
            t.add_row(r.campaign_id, r.campaign_name[:32], r.channel, _fmt(r.revenue), _fmt(r.spend), _fmt(r.roi, True),
                      _fmt(r.roas))
        console.print(t)
    failed = [t for t in report.tasks if t.status != "SUCCEEDED"]
    if failed:
        for t in failed:
            console.print(Text.assemble((f"{t.dag}.{t.task} {t.status}", "red"), f": {t.message}"), soft_wrap=True)


def _fmt_int(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"
