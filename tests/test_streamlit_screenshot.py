"""The page in a real browser: `streamlit run` on a loopback port, headless Chromium, one screenshot.

Chromium is driven over its DevTools protocol (websockets, which streamlit brings) so the
screenshot is taken once the page has really rendered -- every section header, the ROI chart
and the lineage graph -- not after a fixed virtual-time budget (the page's data arrives over
Streamlit's websocket, which virtual time does not wait for).

Skipped when streamlit is not installed or /usr/bin/chromium is missing (.ci/page-checks
installs Debian's chromium). SNOWMESH_SCREENSHOT_DIR keeps a copy of the PNG.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SECTIONS = ("Product catalog", "ROI by campaign", "Lineage", "Domain cost against quota")
# Flags from the machine notes: headless as root, and no background traffic to a closed network.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--window-size=1400,1800")

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: run .ci/page-checks (apt-get install chromium)"),
]


def _free_port() -> int:
    from snowmesh.local.servers import free_port

    return free_port()


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: process exited with {proc.returncode}\n{log.read_text()[-3000:] if log else ''}")
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{log.read_text()[-3000:] if log else ''}")


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


class DevTools:
    """The few DevTools calls a screenshot needs, over the page target's websocket."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=64 * 1024 * 1024, open_timeout=10)
        self.next_id = 0

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    def eval(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def close(self) -> None:
        self.ws.close()


READY_JS = """JSON.stringify({
  text: document.body ? document.body.innerText : "",
  running: !!document.querySelector('[data-testid="stStatusWidget"] img, [data-testid="stStatusWidgetRunningIcon"]'),
  graph: document.querySelectorAll('[data-testid="stGraphVizChart"] svg g.node').length,
  chart: document.querySelectorAll('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg').length,
  exception: !!document.querySelector('[data-testid="stException"]')
})"""


# What a reader sees, measured in the rendered page (after the final layout): the catalog table's
# headers, cells that overflow their box, and whether the table scrolls sideways; the lineage
# SVG's smallest text in screen pixels (font size times the SVG's scale on screen); where the
# ROI chart sits (for the pixel check); the grids' header texts where the grid exposes them.
MEASURE_JS = """JSON.stringify((() => {
  const table = document.querySelector('[data-testid="stTable"]');
  const inner = table ? (table.querySelector('table') || table) : null;
  const scroller = table ? Array.from(table.querySelectorAll('*')).concat([table])
      .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible') : [];
  const cells = inner ? Array.from(inner.querySelectorAll('th, td')) : [];
  const texts = Array.from(document.querySelectorAll('[data-testid="stGraphVizChart"] svg text'));
  const sizes = texts.map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a);
  const chart = document.querySelector('[data-testid="stVegaLiteChart"]');
  const r = chart ? chart.getBoundingClientRect() : null;
  const main = document.querySelector('[data-testid="stMainBlockContainer"]') || document.body;
  return {
    catalogHeaders: inner ? Array.from(inner.querySelectorAll('th')).map(h => h.innerText.trim()) : [],
    catalogText: table ? table.innerText : "",
    catalogWidth: inner ? inner.getBoundingClientRect().width : 0,
    contentWidth: main.getBoundingClientRect().width,
    catalogScrolls: scroller.length,
    overflowingCells: cells.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.innerText),
    graphTexts: texts.map(t => t.textContent),
    graphMinFontPx: sizes.length ? Math.min(...sizes) : 0,
    graphWidth: document.querySelector('[data-testid="stGraphVizChart"] svg')?.getBoundingClientRect().width || 0,
    chartRect: r ? [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height] : null,
    gridHeaders: Array.from(document.querySelectorAll('[data-testid="stDataFrame"] [role="columnheader"]'))
        .map(h => h.innerText.trim()).filter(t => t),
  };
})())"""


FULL_HEIGHT_JS = """Math.max(document.documentElement.scrollHeight,
  ...Array.from(document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"], section'))
     .map(e => e.scrollHeight))"""


def screenshot(url: str, out: Path, profile: Path, log: Path, sections: tuple[str, ...] = SECTIONS,
               chart: bool = True) -> dict:
    """Load ``url`` in headless Chromium, wait until the page has rendered, save a PNG."""
    with log.open("wb") as fh:
        browser = subprocess.Popen(
            [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
             "about:blank"], stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip
    try:
        active = profile / "DevToolsActivePort"
        _wait(lambda: active.exists() and len(active.read_text().split()) >= 2, 30, "Chromium's DevTools port",
              browser, log)
        port = int(active.read_text().split()[0])

        def page_target():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    return next((t for t in json.load(r) if t.get("type") == "page"), None)
            except OSError:
                return None

        tools = DevTools(_wait(page_target, 20, "a Chromium page target", browser, log)["webSocketDebuggerUrl"])
        try:
            tools.call("Emulation.setDeviceMetricsOverride", width=1400, height=1800, deviceScaleFactor=1, mobile=False)
            tools.call("Page.enable")
            tools.call("Page.navigate", url=url)

            def rendered():
                state = json.loads(tools.eval(READY_JS) or "{}")
                done = (all(s in state.get("text", "") for s in sections) and state.get("graph", 0) > 0
                        and (state.get("chart", 0) > 0 or not chart) and not state.get("running"))
                return state if done or state.get("exception") else None

            state = _wait(rendered, 40, "the page to render every section")
            time.sleep(1.0)  # let the chart and graph finish their transitions
            # The whole page, not only the 1400x1800 viewport: lineage and cost sit below the fold,
            # inside Streamlit's own scrolling container, so the viewport grows to its height.
            height = int(tools.eval(FULL_HEIGHT_JS) or 0)
            if height > 1800:
                tools.call("Emulation.setDeviceMetricsOverride", width=1400, height=min(height, 8000),
                           deviceScaleFactor=1, mobile=False)
                time.sleep(1.5)  # charts re-layout to the new viewport
            state["measured"] = json.loads(tools.eval(MEASURE_JS) or "{}")
            png = base64.b64decode(tools.call("Page.captureScreenshot", format="png")["data"])
            out.write_bytes(png)
            return state
        finally:
            tools.close()
    finally:
        _stop(browser)



def _stop(proc: subprocess.Popen) -> None:
    """Stop a process this test started: politely, then for good after 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()

def test_page_renders_in_headless_chromium(mesh_run, tmp_path: Path) -> None:
    pytest.importorskip("streamlit.testing.v1", reason="streamlit is not installed: pip install streamlit==1.67.0")
    pytest.importorskip("websockets.sync.client", reason="websockets (a streamlit dependency) is missing")
    from PIL import Image

    from snowmesh.cli.page_cmd import page_env, streamlit_command

    port = _free_port()
    log = tmp_path / "streamlit.log"
    with log.open("wb") as fh:
        # SNOWMESH_STATE_DIR (set by the mesh_run fixture) points the page at the test's account.
        server = subprocess.Popen(streamlit_command(ROOT, port), env=page_env(ROOT), cwd=ROOT,
                                  stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait(lambda: _healthy(port), 30, "streamlit's health endpoint", server, log)
        out = tmp_path / "page.png"
        state = screenshot(f"http://127.0.0.1:{port}/", out, Path(tempfile.mkdtemp(dir=tmp_path)),
                           tmp_path / "chromium.log")
    finally:
        _stop(server)
    if keep := os.environ.get("SNOWMESH_SCREENSHOT_DIR"):
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(out, Path(keep) / "page.png")
    print(f"screenshot: {out}", file=sys.stderr)

    assert not state["exception"], "the page shows a Python exception"
    m = state["measured"]
    mesh = mesh_run.mesh
    views = [f"{mesh.domain(p.domain).database}.PRODUCTS.{p.view}" for p in mesh.products]
    # The catalog reads at 1400 px: every published view name whole, no cell cut, no sideways scroll.
    for p, view in zip(mesh.products, views):
        assert p.name in m["catalogText"] and view in m["catalogText"], view
    assert m["overflowingCells"] == [], m["overflowingCells"]
    assert m["catalogScrolls"] == 0 and 0 < m["catalogWidth"] <= m["contentWidth"]
    # Friendly headers, in the table and in the grids (no raw UPPER_SNAKE names among them).
    headers = m["catalogHeaders"] + m["gridHeaders"]
    assert "Published view" in m["catalogHeaders"] and "Revenue (USD)" in m["gridHeaders"], headers
    assert not [h for h in headers if "_" in h], headers
    # The lineage is legible at the page's width: its smallest text is at least 11 px on screen
    # (it was ~7 px), and every product's view is labelled.
    assert m["graphMinFontPx"] >= 11, m["graphMinFontPx"]
    for p in mesh.products:
        assert p.view in m["graphTexts"], p.view
    assert 0 < m["graphWidth"] <= m["contentWidth"]
    assert out.stat().st_size > 30_000, "the screenshot is suspiciously small"
    img = Image.open(out).convert("RGB")
    assert img.width == 1400 and img.height >= 1800
    # Not blank: many distinct colours, and a good share of the pixels is not the background.
    small = img.resize((350, img.height // 4))
    pixels = small.width * small.height
    colours = small.getcolors(maxcolors=pixels) or []
    assert len(colours) > 200
    background = max(colours)[1]
    non_bg = sum(n for n, c in colours if sum(abs(a - b) for a, b in zip(c, background)) > 30)
    assert non_bg > 0.03 * pixels
    # The ROI chart is drawn, in one distinct colour per channel: each channel's colour covers
    # a good patch of the chart's box in the picture (its bars), whatever the others do.
    _assert_channel_colours(img, m["chartRect"], mesh_run)


def _assert_channel_colours(img, rect: list[float] | None, mesh_run) -> None:
    sys.path.insert(0, str(ROOT / "streamlit"))
    from mesh_page import queries
    from mesh_page.presentation import colours

    assert rect, "no ROI chart on the page"
    left, top, width, height = (int(v) for v in rect)
    box = img.crop((left, top, left + width, top + height))
    counts = box.getcolors(maxcolors=box.width * box.height) or []
    with mesh_run.target.conn.cursor() as cur:
        cur.execute(f"SELECT DISTINCT CHANNEL FROM {queries.ROI_VIEW}")
        channels = sorted(r[0] for r in cur.fetchall())
    palette = colours(channels)
    assert len(set(palette.values())) == len(channels)
    for channel, hex_colour in palette.items():
        want = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        near = sum(n for n, c in counts if sum(abs(a - b) for a, b in zip(c, want)) <= 12)
        assert near > 150, f"channel {channel}: {hex_colour} covers {near} px of the chart"


# A deeper mesh than the fixture's: three domains, each product reading the previous domain's,
# with long names. Its longest path is LEGIBLE_RANKS nodes (source, raw table, three products):
# the widest the page promises to draw legibly without a zoom.
DEEP_APP = """
import sys
sys.path.insert(0, {streamlit_dir!r})
import streamlit as st
from mesh_page import lineage_view as lv

st.set_page_config(layout="wide")
g, upstream = lv.PageGraph(), None
for i in range(3):
    domain = f"DOMAIN_NUMBER_{{i}}"
    for s in range(3):
        src, raw = f"s3://landing-bucket-{{i}}/source_{{s}}/", f"{{domain}}_DB.RAW.SOURCE_TABLE_{{s}}"
        g.add(lv.PageNode(src, lv.SOURCE, domain)); g.add(lv.PageNode(raw, lv.RAW_TABLE, domain)); g.link(src, raw)
    for p in range(2):
        view = f"{{domain}}_DB.PRODUCTS.PRODUCT_NUMBER_{{p}}_V1"
        g.add(lv.PageNode(view, lv.PRODUCT, domain))
        g.link(f"{{domain}}_DB.RAW.SOURCE_TABLE_{{p}}", view)
        if upstream:
            g.link(upstream, view)
    upstream = f"{{domain}}_DB.PRODUCTS.PRODUCT_NUMBER_0_V1"
assert lv.ranks(g) == lv.LEGIBLE_RANKS, lv.ranks(g)
st.header("Lineage")
st.graphviz_chart(lv.to_dot(g, [f"DOMAIN_NUMBER_{{i}}" for i in range(3)]), width="content")
"""


def test_a_deeper_mesh_is_still_legible(tmp_path: Path) -> None:
    pytest.importorskip("websockets.sync.client", reason="websockets (a streamlit dependency) is missing")
    app = tmp_path / "deep_app.py"
    app.write_text(DEEP_APP.format(streamlit_dir=str(ROOT / "streamlit")))
    port = _free_port()
    log = tmp_path / "streamlit.log"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.address", "127.0.0.1", "--server.port", str(port)]
    with log.open("wb") as fh:
        server = subprocess.Popen(cmd, cwd=tmp_path, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        _wait(lambda: _healthy(port), 30, "streamlit's health endpoint", server, log)
        state = screenshot(f"http://127.0.0.1:{port}/", tmp_path / "deep.png", Path(tempfile.mkdtemp(dir=tmp_path)),
                           tmp_path / "chromium.log", sections=("Lineage",), chart=False)
    finally:
        _stop(server)
    m = state["measured"]
    assert not state["exception"], log.read_text()[-2000:]
    assert "PRODUCT_NUMBER_0_V1" in m["graphTexts"] and "DOMAIN_NUMBER_2" in m["graphTexts"]
    assert m["graphMinFontPx"] >= 11, m["graphMinFontPx"]
