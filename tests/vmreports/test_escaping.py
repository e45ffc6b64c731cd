"""Nothing from the bundle can become markup or script: it is shown as text.

A hostile bundle (a process named ``</script>``, a finding quoting ``<script>``) is rendered
and the page parsed with the standard library's HTML parser, the way a browser tokenizes it:
the only script elements are the report's three, and the strings appear as text.
The browser test (test_browser.py) loads the same page in Chromium.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pandas as pd
from vmanalyze.analysis import Analysis
from vmanalyze.dataset import Dataset
from vmanalyze.engine import RuleStatus
from vmanalyze.rule import Finding, Severity
from vmreports import render_html
from vmreports.render import json_for_script

from .fake_rules import HOSTILE_RULE
from .helpers import dataset_of, result_of

SCRIPT = "<script>window.__xss=1</script>"
CLOSE = "</script><script>window.__xss=2</script>"
IMG = '<img src=x onerror="window.__xss=3">'
COMMENT = "<!--<script>"
SEPARATORS = "line\u2028sep\u2029end"
HOSTILE = (SCRIPT, CLOSE, IMG, COMMENT, SEPARATORS)


def hostile_analysis() -> Analysis:
    """healthy-idle with hostile process names, hostname, warning and finding text."""
    ds = dataset_of("healthy-idle")
    tables = dict(ds.tables)
    ps = tables["process_samples"].copy()
    top = ps.groupby("pid")["rss_bytes"].max().sort_values(ascending=False).index[:3]
    ps["comm"] = ps["comm"].astype(object)
    for pid, name in zip(top, (SCRIPT, CLOSE, IMG), strict=True):
        ps.loc[ps["pid"] == pid, "comm"] = name
    tables["process_samples"] = ps
    host = tables["host"].copy()
    host["hostname"] = CLOSE
    tables["host"] = host
    sysctl = tables["sysctl_vm"].copy()
    sysctl["value"] = sysctl["value"].astype(object)
    sysctl.loc[sysctl["name"] == "swappiness", "value"] = IMG
    tables["sysctl_vm"] = sysctl
    source = dict(ds.source, warnings=[f"file {COMMENT} unreadable"])
    start = tables["samples"]["ts"].min()
    finding = Finding(
        message=f"process {SCRIPT} and {CLOSE} {SEPARATORS}",
        subject=f"process:1234:{CLOSE}",
        start=start,
        end=start + pd.Timedelta(seconds=5),
        evidence={
            "comm": IMG,
            "rss_bytes": 1 << 30,
            "table": pd.DataFrame({"comm": [SCRIPT, CLOSE], "rss_bytes": [1, 2]}),
        },
        remediation=f"Kill {SCRIPT}\n\n```\n{CLOSE}\n```\n\n<b>bold</b> {IMG}",
        code="MEM901",
        name="hostile",
        severity=Severity.CRITICAL,
    )
    status = RuleStatus("MEM901", "error", reason=CLOSE)
    result = result_of(tables, [finding], [status], more_rules=[HOSTILE_RULE])
    return Analysis(Dataset(tables, source), result)


class Page(HTMLParser):
    """Script elements, their contents, every element and the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self._in: str | None = None
        self._buf: list[str] = []
        self._attrs: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag in ("script", "style"):
            self._in, self._buf, self._attrs = tag, [], dict(attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            if tag == "script":
                self.scripts.append((self._attrs, "".join(self._buf)))
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self._buf.append(data)
        else:
            self.text.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def test_json_for_script_cannot_close_its_element() -> None:
    data = {"a": CLOSE, "b": COMMENT, "c": SEPARATORS, "d": "&amp; <>"}
    text = str(json_for_script(data))
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in text
    assert json.loads(text) == data


def test_hostile_strings_are_text_not_markup() -> None:
    html = render_html(hostile_analysis())
    page = parse(html)
    # exactly the report's own scripts: the data, uPlot and report.js
    assert len(page.scripts) == 3
    assert [a.get("type") for a, _ in page.scripts] == ["application/json", None, None]
    for _attrs, body in page.scripts:
        assert "__xss" not in body or body.startswith("{")  # only inside the JSON, escaped
    assert page.tags.count("img") == 0 and page.tags.count("b") == 0
    assert not any(name.startswith("on") for name, _ in page.attrs)
    text = "".join(page.text)
    for needle in (SCRIPT, CLOSE, IMG):
        assert needle in text, needle
    assert f"file {COMMENT} unreadable" in text


def test_hostile_strings_survive_the_json_round_trip() -> None:
    html = render_html(hostile_analysis())
    page = parse(html)
    data_attrs, body = page.scripts[0]
    assert data_attrs.get("id") == "vm-data"
    assert "</" not in body and "<" not in body
    data = json.loads(body)
    assert data["host"] == CLOSE
    labels = [m["label"] for c in data["charts"] for m in c["marks"]]
    assert f"MEM901 process {CLOSE} (pid 1234)" in labels


def test_content_security_policy_allows_only_the_inline_scripts() -> None:
    import base64
    import hashlib
    import re
    from html import unescape

    html = render_html(hostile_analysis())
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None
    policy = unescape(csp.group(1))
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    page = parse(html)
    for _attrs, body in page.scripts[1:]:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
