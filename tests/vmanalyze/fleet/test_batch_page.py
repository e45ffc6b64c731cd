"""fleet.html in headless Chromium: no console error, no network, sorting and filtering work."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cdp import Browser, Page, find_chromium

from .conftest import Run

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="needs Chromium at /usr/bin/chromium (tests/install-system-packages.sh or "
        "apt-get install -y chromium)",
    ),
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with Browser.launch(CHROMIUM) as b:
        yield b


@pytest.fixture
def browser(chromium: Browser) -> Page:
    """A fresh tab per test: its errors and requests are the test's own."""
    return chromium.new_page()


def _rows(browser: Page) -> list[dict[str, str]]:
    return browser.evaluate(
        "Array.from(document.querySelectorAll('#matrix tbody tr')).map(function (tr) {"
        " return {host: tr.cells[0].textContent, status: tr.getAttribute('data-status'),"
        " worst: tr.cells[3].textContent, href: (tr.querySelector('a') || {}).href || ''}; })"
    )


def test_fleet_page_renders_sorts_and_filters(browser: Page, fleet_run: Run) -> None:
    page = fleet_run.out / "fleet.html"
    browser.goto(page.as_uri())
    doc = json.loads(browser.evaluate("document.getElementById('fleet-data').textContent"))
    rows = _rows(browser)
    assert len(rows) == len(doc["inputs"])
    ok = [r for r in rows if r["status"] == "ok"]
    assert ok and all(r["href"].startswith(page.parent.as_uri() + "/reports/") for r in ok)
    for r in ok:
        assert Path(r["href"].removeprefix("file://")).is_file()
    # Default order: failed first, then the worst severity.
    assert rows[0]["status"] == "failed"
    headers = browser.evaluate(
        "Array.from(document.querySelectorAll('#matrix thead th')).map(function (th) {"
        " return th.getAttribute('data-key'); })"
    )
    assert headers[:5] == ["host", "start", "input", "worst", "findings"]
    assert "EXA001" in headers

    # Sort by host: click the header, ascending, then again: descending.
    browser.evaluate("document.querySelector('#matrix thead th[data-key=host]').click()")
    hosts = ["" if r["host"] == "\u2013" else r["host"].lower() for r in _rows(browser)]
    assert hosts == sorted(hosts)  # failed inputs have no host: they sort first
    assert (
        browser.evaluate(
            "document.querySelector('#matrix thead th[data-key=host]').getAttribute('aria-sort')"
        )
        == "ascending"
    )
    browser.evaluate("document.querySelector('#matrix thead th[data-key=host]').click()")
    again = ["" if r["host"] == "\u2013" else r["host"].lower() for r in _rows(browser)]
    assert again == sorted(hosts, reverse=True)

    # Filters: status, severity, text; the count line follows.
    browser.evaluate(
        "var s = document.getElementById('status'); s.value = 'failed';"
        " s.dispatchEvent(new Event('change'))"
    )
    failed = _rows(browser)
    assert failed and all(r["status"] == "failed" for r in failed)
    assert len(failed) == sum(1 for i in doc["inputs"] if i["status"] != "ok")
    shown = browser.evaluate("document.getElementById('shown').textContent")
    assert shown.startswith(f"showing {len(failed)} of {len(doc['inputs'])} inputs")
    browser.evaluate(
        "var s = document.getElementById('status'); s.value = 'ok';"
        " s.dispatchEvent(new Event('change'));"
        "var f = document.getElementById('filter'); f.value = 'no-such-host-xyz';"
        " f.dispatchEvent(new Event('input'))"
    )
    assert _rows(browser) == []
    browser.evaluate(
        "var f = document.getElementById('filter'); f.value = 'truncated';"
        " f.dispatchEvent(new Event('input'))"
    )
    assert len(_rows(browser)) == 1
    browser.evaluate(
        "var f = document.getElementById('filter'); f.value = '';"
        " f.dispatchEvent(new Event('input'));"
        "var v = document.getElementById('severity'); v.value = 'info';"
        " v.dispatchEvent(new Event('change'))"
    )
    assert len(_rows(browser)) == sum(1 for i in doc["inputs"] if i.get("worst"))
    # All rules, not only those with findings.
    browser.evaluate(
        "var c = document.getElementById('only-findings'); c.checked = false;"
        " c.dispatchEvent(new Event('change'))"
    )
    columns = browser.evaluate("document.querySelectorAll('#matrix thead th.rule').length")
    assert columns == len(doc["rules"])

    assert browser.errors() == []
    assert all(url.startswith(("file://", "data:", "about:")) for url in browser.requests())


def test_hostile_text_stays_text(browser: Page, tmp_path: Path) -> None:
    """A host name or error message with markup is shown as text and runs nothing."""
    from vmreports.fleet import render_fleet

    evil = "</script><script>window.__pwned = 1</script><img src=x onerror=window.__pwned=2>"
    html = render_fleet(
        inputs=[
            {
                "id": "a",
                "host": evil,
                "input": evil,
                "status": "ok",
                "report": "reports/a.html",
                "worst": "critical",
                "findings": 1,
                "cells": {"EXA001": "critical"},
                "counts": {"EXA001": 1},
                "start": "2026-11-26T14:00:00Z",
            },
            {
                "id": "b",
                "host": None,
                "input": "bad.tar.gz",
                "path": evil,
                "status": "failed",
                "error": evil,
                "cells": {},
                "counts": {},
            },
        ],
        rules=[{"code": "EXA001", "name": evil, "severity": "info", "summary": evil}],
    )
    assert "<script>window.__pwned" not in html
    page = tmp_path / "fleet.html"
    page.write_text(html)
    browser.goto(page.as_uri())
    assert browser.evaluate("window.__pwned === undefined")
    assert browser.evaluate("document.querySelector('#matrix tbody tr a').textContent") == evil
    assert browser.errors() == []
