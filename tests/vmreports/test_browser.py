"""End to end in headless Chromium: reports of the real sample bundles.

Each report is written to artifacts/report/<scenario>.html and opened from file:// in
Debian's Chromium, driven over the DevTools protocol (cdp.py). The tests check that the
findings are on the first screen, every chart with data has drawn (a uPlot instance and a
canvas of non-zero size), charts without data say why, no console error or exception
happened, and no request left the page. Screenshots (first screen and whole page) and a
printed PDF are kept in artifacts/report/ for people to look at.

Skipped, saying so, when Chromium is not installed (tests/install-system-packages.sh).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from vmanalyze.analysis import Analysis
from vmreports import build_view
from vmreports.render import render_view

from tests.support.cdp import Browser, Page

from .helpers import SCENARIOS, analysis_with_fake_rules, dataset_of, result_of
from .test_escaping import CLOSE, IMG, SCRIPT, hostile_analysis

WIDTH, HEIGHT = 1280, 900

READY = "window.vmtriageReport && window.vmtriageReport.ready"

CHART_STATE = """(() => {
  const out = {};
  for (const fig of document.querySelectorAll('figure.chart-card')) {
    const id = fig.dataset.chart;
    const canvas = fig.querySelector('.chart canvas');
    const box = canvas ? canvas.getBoundingClientRect() : null;
    const empty = fig.querySelector('.chart-empty');
    out[id] = {
      uplot: !!(window.vmtriageReport.charts[id] && window.vmtriageReport.charts[id].series),
      width: box ? box.width : 0,
      height: box ? box.height : 0,
      pixels: canvas ? canvas.width * canvas.height : 0,
      empty: empty ? empty.innerText : null,
      emptyVisible: empty ? empty.getBoundingClientRect().height > 0 : false,
    };
  }
  return out;
})()"""

FINDINGS_STATE = """(() => Array.from(document.querySelectorAll('article.finding')).map(el => {
  const r = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  return {
    code: el.querySelector('.code').innerText,
    top: r.top + window.scrollY,
    height: r.height,
    visible: style.display !== 'none' && style.visibility !== 'hidden' && r.height > 0,
    message: el.querySelector('.message').innerText,
    remediation: !!el.querySelector('.remediation'),
    doc: (el.querySelector('.doclink a') || {getAttribute: () => null}).getAttribute('href'),
  };
}))()"""


def _allowed(url: str, document: str) -> bool:
    return url == document or url.startswith("data:")


def open_report(browser: Browser, html: str, path: Path) -> Page:
    path.write_text(html, encoding="utf-8")
    page = browser.new_page(WIDTH, HEIGHT)
    page.goto(path.resolve().as_uri())
    page.wait_for(READY)
    return page


def assert_clean(page: Page, path: Path) -> None:
    assert page.errors() == []
    assert page.evaluate("window.vmtriageReport.errors") == []
    document = path.resolve().as_uri()
    requests = page.requests()
    assert document in requests
    assert [u for u in requests if not _allowed(u, document)] == []


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_sample_bundle_report_in_chromium(browser: Browser, artifacts: Path, scenario: str) -> None:
    analysis = analysis_with_fake_rules(scenario)
    view = build_view(analysis)
    path = artifacts / f"{scenario}.html"
    page = open_report(browser, render_view(view), path)
    try:
        assert_clean(page, path)
        assert page.evaluate("document.title") == view.title

        # findings: all rendered and visible, the first one on the first screen
        findings = page.evaluate(FINDINGS_STATE)
        assert [f["code"] for f in findings] == [f.code for f in view.findings]
        assert all(f["visible"] and f["remediation"] for f in findings)
        if findings:
            assert findings[0]["top"] < HEIGHT
            assert all(f["doc"] and f["doc"].startswith("#rule-") for f in findings)
            for f in findings:  # the doc anchor exists in the page
                assert page.evaluate(f"!!document.getElementById({json.dumps(f['doc'][1:])})")
        verdict = page.evaluate("document.querySelector('.verdict').getBoundingClientRect().top")
        assert verdict < HEIGHT / 2

        # charts: every chart with data drew; the others say why
        state: dict[str, Any] = page.evaluate(CHART_STATE)
        assert set(state) == {c.id for c in view.charts}
        for chart in view.charts:
            got = state[chart.id]
            if chart.drawn:
                assert got["uplot"], chart.id
                assert got["width"] > 200 and got["height"] > 100, (chart.id, got)
                assert got["pixels"] > 0
            else:
                assert not got["uplot"] and got["emptyVisible"], chart.id
                assert got["empty"] == chart.empty
        drawn = page.evaluate("Object.keys(window.vmtriageReport.charts).length")
        assert drawn == sum(c.drawn for c in view.charts)

        page.screenshot(artifacts / f"{scenario}-first-screen.png")
        page.screenshot(artifacts / f"{scenario}-full.png", full_page=True)
        assert page.errors() == []
    finally:
        page.call("Page.close")


def test_hover_and_zoom_are_shared_across_charts(browser: Browser, artifacts: Path) -> None:
    view = build_view(analysis_with_fake_rules("swap-thrash"))
    path = artifacts / "interaction.html"
    page = open_report(browser, render_view(view), path)
    try:
        page.evaluate(
            "document.getElementById('chart-memory').scrollIntoView({behavior: 'instant'})"
        )
        box = page.evaluate(
            "(() => { const r = document.querySelector('#plot-memory .u-over')"
            ".getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()"
        )
        left, top, width, height = box
        y = top + height / 2
        # hover: the cursor moves on every chart (shared cursor), legends show that time
        page.mouse("mouseMoved", left + width * 0.5, y)
        page.wait_for("window.vmtriageReport.charts.memory.cursor.idx != null")
        idx = page.evaluate(
            "Object.fromEntries(Object.entries(window.vmtriageReport.charts)"
            ".map(([k, u]) => [k, u.cursor.idx]))"
        )
        assert all(i is not None for i in idx.values()), idx
        legend = page.evaluate(
            "document.querySelector('#plot-swap .u-legend .u-series:first-child .u-value')"
            ".innerText"
        )
        memory_time = page.evaluate(
            "document.querySelector('#plot-memory .u-legend .u-series:first-child .u-value')"
            ".innerText"
        )
        assert legend.endswith("UTC") and legend[:5] == memory_time[:5]

        # drag to zoom on the memory chart: every chart shows the same time range
        before = page.evaluate("window.vmtriageReport.charts.swap.scales.x.max")
        page.mouse("mousePressed", left + width * 0.3, y, buttons=1)
        page.mouse("mouseMoved", left + width * 0.5, y, buttons=1)
        page.mouse("mouseMoved", left + width * 0.6, y, buttons=1)
        page.mouse("mouseReleased", left + width * 0.6, y)
        ranges = page.evaluate(
            "Object.entries(window.vmtriageReport.charts)"
            ".map(([k, u]) => [k, u.scales.x.min, u.scales.x.max])"
        )
        mins = {round(r[1], 3) for r in ranges}
        maxs = {round(r[2], 3) for r in ranges}
        assert len(mins) == 1 and len(maxs) == 1, ranges
        assert maxs.pop() < before
        page.screenshot(artifacts / "interaction-zoomed.png")

        # reset zoom restores each chart's whole range
        page.evaluate("document.getElementById('reset-zoom').click()")
        assert page.evaluate("window.vmtriageReport.charts.swap.scales.x.max") == before
        assert_clean(page, path)
    finally:
        page.call("Page.close")


def test_hostile_bundle_shows_text_and_runs_nothing(browser: Browser, artifacts: Path) -> None:
    path = artifacts / "hostile.html"
    page = open_report(browser, render_html_hostile(), path)
    try:
        assert page.evaluate("typeof window.__xss") == "undefined"
        assert page.evaluate("document.scripts.length") == 3
        assert page.evaluate("document.images.length") == 0
        text = page.evaluate("document.body.innerText")
        for needle in (SCRIPT, CLOSE, IMG):
            assert needle in text
        assert page.evaluate("document.querySelector('h1').innerText") == CLOSE
        assert_clean(page, path)
        page.screenshot(artifacts / "hostile-first-screen.png")
    finally:
        page.call("Page.close")


def render_html_hostile() -> str:
    return render_view(build_view(hostile_analysis()))


def test_no_rules_and_one_snapshot(browser: Browser, artifacts: Path) -> None:
    """A sosreport-like single snapshot, no rules: every chart explains itself, no error."""
    ds = dataset_of("debian12")
    view = build_view(Analysis(ds, result_of(ds.tables)))
    path = artifacts / "one-snapshot.html"
    page = open_report(browser, render_view(view), path)
    try:
        assert_clean(page, path)
        state = page.evaluate(CHART_STATE)
        assert state and all(s["emptyVisible"] and not s["uplot"] for s in state.values())
        page.screenshot(artifacts / "one-snapshot-first-screen.png")
    finally:
        page.call("Page.close")


def test_print_gives_a_paged_document(browser: Browser, artifacts: Path) -> None:
    """Printing: white background, charts within the page width, nothing broken."""
    view = build_view(analysis_with_fake_rules("swap-thrash"))
    path = artifacts / "print.html"
    page = open_report(browser, render_view(view), path)
    try:
        page.call("Emulation.setEmulatedMedia", {"media": "print"})
        page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
        body = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert body in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
        assert page.evaluate("getComputedStyle(document.querySelector('.topnav')).display") == (
            "none"
        )
        widths = page.evaluate("Object.values(window.vmtriageReport.charts).map(u => u.width)")
        assert widths and max(widths) <= 720  # A4 text width at 96 dpi
        pdf = artifacts / "swap-thrash.pdf"
        page.pdf(pdf)
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF") and data.count(b"/Type /Page") >= 3
        page.evaluate("window.dispatchEvent(new Event('afterprint'))")
        assert_clean(page, path)
    finally:
        page.call("Page.close")


def test_axes_have_units_and_the_legend_rests_on_the_last_sample(
    browser: Browser, artifacts: Path
) -> None:
    analysis = analysis_with_fake_rules("swap-thrash")
    view = build_view(analysis)
    path = artifacts / "axes.html"
    page = open_report(browser, render_view(view), path)
    try:
        assert_clean(page, path)
        labels = page.evaluate(
            "Object.fromEntries(Object.entries(window.vmtriageReport.charts)"
            ".map(([k, u]) => [k, u.axes.slice(1).map(a => a.label)]))"
        )
        charts = {c.id: c for c in view.charts if c.drawn}
        assert set(labels) == set(charts)
        for chart_id, chart in charts.items():
            spec = chart.to_json()
            assert labels[chart_id] == [spec["label"], spec["label2"]][: len(labels[chart_id])]
            assert all(labels[chart_id]), chart_id
        assert labels["faults"][0] == "faults/s"

        samples = analysis.dataset.tables["samples"]
        last = samples.loc[samples["phase"] == "sample", "ts"].max()
        last_s = (last - pd.Timestamp(0, tz="UTC")).total_seconds()
        x_last = page.evaluate(
            "(u => u.data[0][u.data[0].length - 1])(window.vmtriageReport.charts.swap)"
        )
        assert x_last == pytest.approx(last_s, abs=1e-3)  # not the end snapshot, 87 ms later
        swap = charts["swap"]
        resting = page.evaluate(
            "document.querySelector('#plot-swap .u-legend .u-series:nth-child(2) .u-value')"
            ".innerText"
        )
        assert resting.endswith("/s") and swap.series[0].label == "Swap-in"
        assert resting != "0 B/s"  # the end snapshot's rate over 87 ms used to rest here
    finally:
        page.call("Page.close")
