"""Structural redaction of command lines: a corpus of real-shaped command lines, end to end.

The corpus (redaction_corpus.json) holds each command line with its expected redaction and the
reason; lines that must stay as they are (ports, paths, ids, JVM flags) are in it too.
"""

import io
import json
import os
import sys  # noqa: E402,I001

import pytest

from .bundle_reader import Bundle
from .conftest import COLLECTOR, copy_process, root_args, run_collector

sys.path.insert(0, COLLECTOR)
from vmcollect.redact import MASK, redact_args, redact_cmdline, redact_title  # noqa: E402

CORPUS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "redaction_corpus.json")
with io.open(CORPUS_PATH, encoding="utf-8") as _f:
    CORPUS = json.load(_f)


def test_the_corpus_is_large_and_mixed():
    assert len(CORPUS) >= 60
    changed = [c for c in CORPUS if c.get("argv", c.get("title")) != c["expected"]]
    kept = [c for c in CORPUS if c.get("argv", c.get("title")) == c["expected"]]
    assert len(changed) >= 45 and len(kept) >= 12


@pytest.mark.parametrize("case", CORPUS, ids=[c["why"] for c in CORPUS])
def test_corpus(case):
    if "title" in case:
        assert redact_title(case["title"]) == case["expected"]
    else:
        assert redact_args(case["argv"]) == case["expected"]


@pytest.mark.parametrize("case", CORPUS, ids=[c["why"] for c in CORPUS])
def test_corpus_through_proc_cmdline_bytes(case):
    """The same through the collector's entry point: NUL layout or one title string."""
    if "title" in case:
        raw = case["title"].encode("utf-8")
        want = case["expected"].encode("utf-8")
    else:
        raw = "\0".join(case["argv"]).encode("utf-8") + b"\0"
        want = "\0".join(case["expected"]).encode("utf-8") + b"\0"
    assert redact_cmdline(raw) == want
    assert redact_cmdline(want) == want  # redacting twice changes nothing more


def test_argv0_is_redacted_too():
    assert redact_args(["app secret=hunter2 worker", "--x"]) == ["app secret=*** worker", "--x"]


def test_undecodable_bytes_survive():
    raw = b"app\x00--password\x00\xff\xfehunter\x00\xff\x00"
    assert redact_cmdline(raw) == b"app\x00--password\x00***\x00\xff\x00"


def _root_with_process(fixture_root, argv):
    pid_dir = copy_process(fixture_root, os.getpid(), new_pid=777777)
    with open(os.path.join(pid_dir, "cmdline"), "wb") as f:
        f.write(b"\0".join(a.encode() for a in argv) + b"\0")
    return fixture_root


ARGV = ["psql", "host=db01 user=app password=Tr0ub4dor&3", "-p", "5432"]


@pytest.mark.parametrize(
    "mode, expected, privacy",
    [
        (None, ["psql", "host=db01 user=app password=***", "-p", "5432"], "redacted"),
        ("redacted", ["psql", "host=db01 user=app password=***", "-p", "5432"], "redacted"),
        ("full", ARGV, "full (not redacted)"),
        ("none", None, "not collected"),
    ],
)
def test_cmdline_option(fixture_root, out_dir, mode, expected, privacy):
    root = _root_with_process(fixture_root, ARGV)
    args = root_args(root) + ["-o", out_dir, "-q"]
    if mode is not None:
        args += ["--cmdline", mode]
    _, out, _ = run_collector(args)
    b = Bundle(out.strip())
    assert b.manifest["privacy"]["cmdline"] == privacy
    assert b.manifest["options"]["cmdline"] == (mode or "redacted")
    if expected is None:
        assert "proc/777777/cmdline" not in b.members
        assert "proc/777777/comm" in b.members
    else:
        body = b.records("proc/777777/cmdline")[0][1]
        assert body.split(b"\0")[:-1] == [a.encode() for a in expected]
    if mode != "full":
        assert b"Tr0ub4dor" not in b.everything()


def test_no_cmdline_is_an_alias_of_none(fixture_root, out_dir):
    root = _root_with_process(fixture_root, ARGV)
    _, out, _ = run_collector(root_args(root) + ["--no-cmdline", "-o", out_dir, "-q"])
    b = Bundle(out.strip())
    assert b.manifest["options"]["cmdline"] == "none" and "proc/777777/cmdline" not in b.members
    assert MASK not in b.manifest["privacy"]["cmdline"]
