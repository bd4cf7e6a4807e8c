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

from mesh_page import mesh_facts, queries
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
shown = [c for c in ("DOMAIN", "PRODUCT", "VALIDATION", "FRESHNESS", "VERSION", "STATUS", "OWNER", "ROW_COUNT",
                     "LAST_VALIDATED_AT", "CONSUMERS", "VIEW_NAME") if c in catalog.columns]
shown += [c for c in catalog.columns if c not in shown and c not in ("PUBLISHED", "FRESH", "LAST_VALIDATION")]
_wide(st.dataframe, catalog[shown], hide_index=True)

# ----------------------------------------------------------------------------- ROI
st.header("ROI by campaign")
period = queries.roi_period(session)
if period is None:
    st.info(f"{queries.ROI_VIEW} has no rows yet: run the mesh (`mesh run`).")
else:
    picked = st.date_input("Period (PERIOD_DATE)", value=period, min_value=period[0], max_value=period[1],
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
            chart = (
                alt.Chart(roi.assign(CAMPAIGN=roi["CAMPAIGN_ID"] + " " + roi["CAMPAIGN_NAME"].fillna("")))
                .mark_bar()
                .encode(
                    x=alt.X("ROI:Q", title="ROI", axis=alt.Axis(format="%")),
                    y=alt.Y("CAMPAIGN:N", sort="-x", title=None, axis=alt.Axis(labelLimit=280, labelOverlap=False)),
                    color=alt.Color("CHANNEL:N", title="channel"),
                    tooltip=["CAMPAIGN_ID", "CAMPAIGN_NAME", "CHANNEL", "REVENUE_USD", "SPEND_USD",
                             alt.Tooltip("ROI:Q", format=".1%"), alt.Tooltip("ROAS:Q", format=".2f")],
                )
                .properties(height=max(160, 26 * len(roi)))
            )
            _wide(st.altair_chart, chart)
            _wide(st.dataframe, roi, hide_index=True)
    else:
        st.info("Pick the period's last day too.")

# ----------------------------------------------------------------------------- lineage and cost
domains_dir = mesh_facts.manifests_dir(page.project, APP_DIR)
if domains_dir is None:
    st.warning("No domain manifests found (domains/*/domain.yml): lineage and quotas need them.")
else:
    domains = mesh_facts.load_domains(domains_dir)
    st.header("Lineage")
    dot, origin = mesh_facts.lineage_dot(domains, page.project)
    st.session_state["lineage_dot"] = dot
    st.caption(f"source → raw → product → consumer, from {origin}.")
    _wide(st.graphviz_chart, dot)

    st.header("Domain cost against quota")
    cost = mesh_facts.cost_vs_quota(session, domains)
    st.session_state["cost"] = cost
    st.caption("Credits are an ESTIMATE (governance.cost, as `mesh finops` on the local account): this month's "
               "task-run seconds (GOVERNANCE_DB.AUDIT.TASK_RUNS) × the warehouse size's credits per hour, with the "
               "60 s minimum per DAG run (BUSY_CREDITS: without it), against the manifest's monthly_credit_quota. "
               "A lower bound: no auto-suspend tail, cloud services or queries outside the task graphs.")
    for _, r in cost.iterrows():
        pct = r["QUOTA_USED_PCT"]
        label = (f"{r['DOMAIN']} ({r['WAREHOUSE']}, {r['SIZE']}): {r['CREDITS_ESTIMATE']:.4f} of "
                 f"{r['MONTHLY_QUOTA']:g} credits" + (f" ({pct:.3f}%)" if pct is not None else ""))
        st.progress(min(1.0, (pct or 0.0) / 100.0), text=label)
    _wide(st.dataframe, cost, hide_index=True)
