"""How the page shows its frames: friendly headers, the catalog's columns, one qualitative palette.

Pure (pandas only): the queries return the warehouse's UPPER_SNAKE columns, and the tests
compare those; only what a reader sees is renamed here, in one table of labels, so every
section uses the same words for the same column.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import pandas as pd

# One header per warehouse column, for every table and chart on the page.
LABELS: dict[str, str] = {
    "DOMAIN": "Domain",
    "PRODUCT": "Product",
    "VALIDATION": "Last validation",
    "FRESHNESS": "Freshness",
    "VERSION": "Version",
    "STATUS": "Status",
    "OWNER": "Owner",
    "ROW_COUNT": "Rows",
    "LAST_VALIDATED_AT": "Validated at (UTC)",
    "CONSUMERS": "Consumers",
    "VIEW_NAME": "Published view",
    "CAMPAIGN_ID": "Campaign",
    "CAMPAIGN_NAME": "Campaign name",
    "CAMPAIGN": "Campaign",
    "CHANNEL": "Channel",
    "REVENUE_USD": "Revenue (USD)",
    "SPEND_USD": "Spend (USD)",
    "ROI": "ROI",
    "ROAS": "ROAS",
    "WAREHOUSE": "Warehouse",
    "SIZE": "Size",
    "TASK_RUNS": "Task runs",
    "DAG_RUNS": "Graph runs",
    "SECONDS": "Task seconds",
    "BUSY_CREDITS": "Busy credits",
    "CREDITS_ESTIMATE": "Credits (estimate)",
    "MONTHLY_QUOTA": "Monthly quota",
    "QUOTA_USED_PCT": "Quota used (%)",
    "PERIOD_DATE": "Period",
    "SERVED_VERSIONS": "Older versions served",
}


def label(column: str) -> str:
    """The friendly header of a warehouse column; an unknown one (a newer registry column) in title case."""
    return LABELS.get(column) or column.replace("_", " ").capitalize()


def friendly(frame: pd.DataFrame) -> pd.DataFrame:
    """The same rows with friendly headers (for st.table, which has no column labels of its own)."""
    return frame.rename(columns={c: label(c) for c in frame.columns})


# The catalog at 1400 px: the columns a reader scans, short enough that the published view name
# is shown whole and nothing hides behind a horizontal scroll (st.table wraps a long cell, the
# grid cut it). STATUS joins VERSION when it says more than "active"; the validation time joins
# its badge. Registry columns the page does not know are appended (they may wrap, never hide).
CATALOG_COLUMNS = ("DOMAIN", "PRODUCT", "VERSION", "VALIDATION", "FRESHNESS", "ROW_COUNT", "OWNER",
                   "CONSUMERS", "VIEW_NAME")  # fmt: skip
# Shown inside another column, only used to compute a badge, or (HEALTH_AT) the time of the
# registry's stored health snapshot, which is not the live health the page computes and shows.
CATALOG_FOLDED = ("STATUS", "LAST_VALIDATED_AT", "PUBLISHED", "FRESH", "LAST_VALIDATION", "FRESHNESS_HOURS",
                  "SLA_HOURS", "HEALTH_AT")  # fmt: skip
NBSP, NB_HYPHEN = "\u00a0", "\u2011"


def catalog_table(catalog: pd.DataFrame) -> pd.DataFrame:
    """The catalog as the reader sees it: friendly headers, folded columns, no index."""
    out = catalog.copy()
    if "STATUS" in out.columns and "VERSION" in out.columns:
        out["VERSION"] = [_join(v, None if str(s).lower() == "active" else s) for v, s in zip(out["VERSION"], out["STATUS"])]
    if "LAST_VALIDATED_AT" in out.columns and "VALIDATION" in out.columns:
        out["VALIDATION"] = [_join(b, _short_time(t)) for b, t in zip(out["VALIDATION"], out["LAST_VALIDATED_AT"])]
    if "FRESHNESS" in out.columns:
        # A narrow cell wraps after the badge word, never inside "(0.0 h of 26 h)".
        out["FRESHNESS"] = [_keep_together(f, "(") for f in out["FRESHNESS"]]
    if "ROW_COUNT" in out.columns:
        out["ROW_COUNT"] = [_count(n) for n in out["ROW_COUNT"]]
    if "CONSUMERS" in out.columns:
        out["CONSUMERS"] = [", ".join(_split(c)) or "—" for c in out["CONSUMERS"]]
    shown = [c for c in CATALOG_COLUMNS if c in out.columns]
    extra = [c for c in out.columns if c not in shown and c not in CATALOG_FOLDED]
    for c in extra:
        out[c] = [_cell_text(v) for v in out[c]]
    return friendly(out[[*shown, *extra]].reset_index(drop=True))


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or str(value).strip() == ""


def _join(first: object, second: object) -> str:
    return str(first) if _blank(second) else f"{first} · {second}"


def _short_time(value: object) -> str:
    """'2026-12-01 13:44:10' -> '2026‑12‑01 13:44', minutes (what a reader compares), in one piece:
    non-breaking hyphens and space, so a narrow cell wraps before the time, not inside it."""
    return "" if _blank(value) else str(value)[:16].replace("-", NB_HYPHEN).replace(" ", NBSP)


def _keep_together(text: object, start: str) -> str:
    """The part of ``text`` from ``start`` on with non-breaking spaces: it wraps as one piece."""
    head, sep, tail = str(text).partition(start)
    return head + sep + tail.replace(" ", NBSP) if sep else str(text)


def _cell_text(value: object) -> str:
    """A registry cell as text: a list (or a JSON list, as VARCHAR columns hold them) as "a, b", none as "—"."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, (list, tuple)):
        items = [x if isinstance(x, str) else json.dumps(x, separators=(", ", ": ")) for x in value]
        return ", ".join(items) or "—"
    return "—" if _blank(value) else str(value)


def _count(value: object) -> str:
    return "—" if _blank(value) else f"{int(value):,}"


def _split(value: object) -> list[str]:
    if _blank(value):
        return []
    return [part.strip() for part in str(value).replace(";", ",").split(",") if part.strip()]


# --------------------------------------------------------------------------- colours

# Tableau 10, reordered so that the first colours differ most in hue (blue, orange, green, red,
# purple, ...): a handful of channels or domains never get two blues or two reds, and the
# colours stay apart for the common colour-vision deficiencies. Qualitative, not a ramp: the
# categories have no order.
PALETTE: tuple[str, ...] = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#edc948", "#9c755f",
                            "#76b7b2", "#ff9da7", "#bab0ac")  # fmt: skip


def colours(categories: Iterable[str]) -> dict[str, str]:
    """One palette colour per category, in the order given (which the caller keeps stable)."""
    unique = list(dict.fromkeys(str(c) for c in categories))
    return {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(unique)}


def tint(hex_colour: str, share: float = 0.78) -> str:
    """The colour mixed with white (``share`` of white): a node fill that keeps black text readable."""
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    mixed = (round(c + (255 - c) * share) for c in (r, g, b))
    return "#" + "".join(f"{c:02x}" for c in mixed)


# Named number formats ("percent") are in Streamlit 1.45's column_config reference
# (https://docs.streamlit.io/1.45.0/develop/api-reference/data/st.column_config/st.column_config.progresscolumn);
# 1.35's lists printf formats only
# (https://docs.streamlit.io/1.35.0/develop/api-reference/data/st.column_config/st.column_config.numbercolumn),
# and an older Streamlit in Snowflake would print the word. Below 1.45 the printf fallback is used.
PRESETS_SINCE = (1, 45)


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def column_config(columns: Sequence[str], formats: dict[str, str | tuple[str, str]] | None = None) -> dict[str, object]:
    """st.dataframe column_config: the friendly header of each column, a number format where given.

    A format is printf ("%.2f") or (named preset, printf fallback) for Streamlit before 1.45.
    """
    import streamlit as st

    presets = _version(getattr(st, "__version__", "0")) >= PRESETS_SINCE
    out: dict[str, object] = {}
    for c in columns:
        fmt = (formats or {}).get(c)
        if isinstance(fmt, tuple):
            fmt = fmt[0] if presets else fmt[1]
        out[c] = st.column_config.NumberColumn(label(c), format=fmt) if fmt else label(c)
    return out
