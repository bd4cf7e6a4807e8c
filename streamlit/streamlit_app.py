"""snowmesh: the data mesh at a glance -- catalog health, ROI by campaign, lineage, cost vs quota.

Streamlit in Snowflake runs it with the account's session; ``mesh page`` (or
``streamlit run streamlit/streamlit_app.py``) runs it against the local account that
``mesh up`` keeps running. docs/page.md says how to run, test and deploy it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import altair as alt
import streamlit as st

# The page's own modules sit next to this file, in Snowflake and locally alike.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mesh_page import lineage_view, mesh_facts, queries
from mesh_page.presentation import catalog_table, colours, column_config, label
from mesh_page.session import APP_DIR, PageUnavailable, cache_key, connect

st.set_page_config(page_title="snowmesh", page_icon="❄️", layout="wide")


@st.cache_resource(show_spinner=False)
def _page_session(key: str):
    return connect()


def _wide(element, *args, **kwargs):
    """Full width: ``width="stretch"`` (newer Streamlit), else ``use_container_width`` (older SiS)."""
    try:
        return element(*args, width="stretch", **kwargs)
    except TypeError:
        return element(*args, use_container_width=True, **kwargs)


def _call(element, *args, optional: dict | None = None, **kwargs):
    """``element`` with keyword arguments an older Streamlit (SiS) may lack, retried without them."""
    try:
        return element(*args, **kwargs, **(optional or {}))
    except TypeError:
        return element(*args, **kwargs)


def _stop(message: str, hint: str = "") -> None:
    st.error(message + (f"\n\n{hint}" if hint else ""))
    st.stop()


st.title("❄️ snowmesh")
try:
    page = _page_session(cache_key())
except PageUnavailable as exc:
    _stop(f"Cannot show the mesh: {exc}.", exc.hint)
session = page.session
st.caption(f"Data from {page.where}.")

# ----------------------------------------------------------------------------- catalog
st.header("Product catalog")
try:
    catalog = queries.catalog(session)
except Exception as exc:  # noqa: BLE001 - a missing registry is the usual cause: say so, stop
    _stop(f"Cannot read the product registry {queries.REGISTRY}: {exc}",
          "Run the mesh first (`mesh run`): the deploy writes the registry from the manifests.")
st.session_state["catalog"] = catalog
cols = st.columns(3)
cols[0].metric("Products", len(catalog))
cols[1].metric("Last validation passed", int((catalog["LAST_VALIDATION"] == "PASSED").sum()))
cols[2].metric("Fresh within SLA", int(catalog["FRESH"].fillna(False).astype(bool).sum()))
# A static table, not st.dataframe: it wraps a long cell instead of cutting it, and shows every
# column at the page width (the grid hid three behind a horizontal scroll at 1400 px).
_call(st.table, catalog_table(catalog), optional={"hide_index": True})
st.caption("Health is computed now, in the warehouse, by PRODUCT_HEALTH's query: the latest validation run "
           "and the age of the newest row against the contract's freshness SLA.")

# ----------------------------------------------------------------------------- ROI
st.header("ROI by campaign")
period = queries.roi_period(session)
if period is None:
    st.info(f"{queries.ROI_VIEW} has no rows yet: run the mesh (`mesh run`).")
else:
    picked = st.date_input("Period", value=period, min_value=period[0], max_value=period[1],
                           key="roi_period")
    if isinstance(picked, (tuple, list)) and len(picked) == 2:
        start, end = picked
        roi = queries.roi_by_campaign(session, start, end)
        st.session_state["roi"] = roi
        st.caption(f"{len(roi)} campaign(s), {start} to {end}; aggregated in the warehouse "
                   "(ROI = (revenue − spend) / spend).")
        if roi.empty:
            st.info("No campaign rows in this period.")
        else:
            # One qualitative colour per channel, in the order of every channel the product has, so a
            # channel keeps its colour whatever the period (Streamlit's theme pairs two blues, two reds).
            palette = colours([*queries.roi_channels(session), *roi["CHANNEL"].dropna()])
            st.session_state["roi_palette"] = palette
            chart = (
                alt.Chart(roi.assign(CAMPAIGN=roi["CAMPAIGN_ID"] + " " + roi["CAMPAIGN_NAME"].fillna("")))
                .mark_bar()
                .encode(
                    x=alt.X("ROI:Q", title=label("ROI"), axis=alt.Axis(format="%")),
                    y=alt.Y("CAMPAIGN:N", sort="-x", title=None, axis=alt.Axis(labelLimit=280, labelOverlap=False)),
                    color=alt.Color("CHANNEL:N", title=label("CHANNEL"),
                                    scale=alt.Scale(domain=list(palette), range=list(palette.values()))),
                    tooltip=[alt.Tooltip(f"{c}:N", title=label(c)) for c in ("CAMPAIGN_ID", "CAMPAIGN_NAME", "CHANNEL")]
                    + [alt.Tooltip(f"{c}:Q", title=label(c), format=",.2f") for c in ("REVENUE_USD", "SPEND_USD")]
                    + [alt.Tooltip("ROI:Q", title=label("ROI"), format=".1%"),
                       alt.Tooltip("ROAS:Q", title=label("ROAS"), format=".2f")],
                )
                .properties(height=max(160, 26 * len(roi)))
            )
            _wide(st.altair_chart, chart)
            _wide(st.dataframe, roi, hide_index=True, column_config=column_config(
                roi.columns, {"REVENUE_USD": "%.2f", "SPEND_USD": "%.2f", "ROI": ("percent", "%.4f"), "ROAS": "%.2f"}))
    else:
        st.info("Pick the period's last day too.")

# ----------------------------------------------------------------------------- lineage and cost
domains_dir = mesh_facts.manifests_dir(page.project, APP_DIR)
if domains_dir is None:
    st.warning("No domain manifests found (domains/*/domain.yml): lineage and quotas need them.")
else:
    domains = mesh_facts.load_domains(domains_dir)
    st.header("Lineage")
    order = [d.name for d in domains]
    graph, origin = lineage_view.lineage_graph([d.manifest for d in domains], page.project)
    # The zoom: one domain and its neighbours, drawn larger than the whole mesh can be at the
    # page width; the chart's own full-screen button shows any of them at the window's size.
    whole = "the whole mesh"
    picked_domain = st.selectbox("Show", [whole, *order], key="lineage_focus",
                                 format_func=lambda d: d if d == whole else f"{d} and its neighbours")
    shown_graph = lineage_view.focus(graph, None if picked_domain == whole else picked_domain)
    if picked_domain == whole and lineage_view.ranks(graph) > lineage_view.LEGIBLE_RANKS:
        st.info(f"The whole mesh is {lineage_view.ranks(graph)} steps deep, too wide to read at this width: "
                "pick a domain under Show, or open the chart full screen.")
    dot = lineage_view.to_dot(shown_graph, order)
    st.session_state["lineage_dot"] = dot
    st.session_state["lineage_graph"] = graph
    st.caption(f"S3 prefix (folder) → raw table (box) → published view (rounded, bold) → the views that read it; "
               f"one colour per domain; from {origin}. Hover a node for its full name.")
    _call(st.graphviz_chart, dot, optional={"width": "content"})

    st.header("Domain cost against quota")
    cost = mesh_facts.cost_vs_quota(session, domains)
    st.session_state["cost"] = cost
    st.caption("Credits are an ESTIMATE (governance.cost, as `mesh finops` on the local account): this month's "
               "task-run seconds (GOVERNANCE_DB.AUDIT.TASK_RUNS) × the warehouse size's credits per hour, with the "
               "60 s minimum per graph run (busy credits: without it), against the manifest's monthly_credit_quota. "
               "A lower bound: no auto-suspend tail, cloud services or queries outside the task graphs.")
    for _, r in cost.iterrows():
        pct = r["QUOTA_USED_PCT"]
        label = (f"{r['DOMAIN']} ({r['WAREHOUSE']}, {r['SIZE']}): {r['CREDITS_ESTIMATE']:.4f} of "
                 f"{r['MONTHLY_QUOTA']:g} credits" + (f" ({pct:.3f}%)" if pct is not None else ""))
        st.progress(min(1.0, (pct or 0.0) / 100.0), text=label)
    _wide(st.dataframe, cost, hide_index=True, column_config=column_config(
        cost.columns, {"SECONDS": "%.1f", "BUSY_CREDITS": "%.4f", "CREDITS_ESTIMATE": "%.4f", "QUOTA_USED_PCT": "%.3f"}))
