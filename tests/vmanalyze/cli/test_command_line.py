"""`vmanalyze` as a user runs it: option order, stdin, --version, help, rules, exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from vmanalyze import __version__
from vmanalyze.cli import main, rules_cmd

from .conftest import SWAP_BUNDLE, MakeAnalysis

COMMANDS = ("analyze", "export", "rules", "batch")


def vmanalyze(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vmanalyze", *args],
        input=stdin.decode("latin-1") if stdin is not None else None,
        capture_output=True,
        text=True,
        encoding="latin-1",
        timeout=300,
    )


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.mark.parametrize("command", [(), *((c,) for c in COMMANDS)])
def test_version_on_every_command(capsys: pytest.CaptureFixture[str], command: tuple[str]) -> None:
    assert run_main(capsys, *command, "--version") == (0, f"vmanalyze {__version__}\n", "")


def test_options_before_the_input_and_stdin_give_the_same_analysis(tmp_path: Path) -> None:
    before = vmanalyze("--format", "json", "-o", "-", "--no-cache", str(SWAP_BUNDLE))
    assert before.returncode == 0, before.stderr
    piped = vmanalyze("-", "--no-cache", "-f", "json", "-o", "-", stdin=SWAP_BUNDLE.read_bytes())
    assert piped.returncode == 0, piped.stderr
    a, b = json.loads(before.stdout), json.loads(piped.stdout)
    assert b["input"]["path"] == "-" and b["input"]["name"] == "stdin"
    assert a["input"]["sha256"] == b["input"]["sha256"]
    assert a["findings"] == b["findings"] and len(a["findings"]) == 5


def test_stdin_that_is_empty_is_one_line_and_status_2() -> None:
    done = vmanalyze("-", "--no-cache", stdin=b"")
    assert (done.returncode, done.stderr) == (2, "vmanalyze: error: -: standard input is empty\n")


def test_a_closed_pipe_is_not_status_1() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vmanalyze",
            "--no-cache",
            "-f",
            "json",
            "-o",
            "-",
            str(SWAP_BUNDLE),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head` that has had enough, before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141
    assert "Traceback" not in err and "Broken pipe" not in err


def test_fail_on_is_status_1_and_bad_usage_status_2(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    done = vmanalyze("--fail-on", "warning", "-o", str(out), "--no-cache", str(SWAP_BUNDLE))
    assert done.returncode == 1 and out.is_file()
    assert vmanalyze("--no-such-option", str(SWAP_BUNDLE)).returncode == 2
    missing = vmanalyze(str(tmp_path / "nope.tar.gz"))
    assert missing.returncode == 2
    assert (
        missing.stderr
        == f"vmanalyze: error: {tmp_path / 'nope.tar.gz'}: No such file or directory\n"
    )


def test_an_unexpected_exception_is_one_line_with_its_own_status(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(registry: object, query: str) -> list[object]:
        raise KeyError("\x1b]0;x")

    monkeypatch.setattr(rules_cmd, "find_rules", broken)
    code, out, err = run_main(capsys, "rules", "SWP")
    assert (code, out) == (4, "")
    assert err == (
        "vmanalyze: internal error (KeyError: '\\x1b]0;x'); --debug shows the traceback\n"
    )
    code, out, err = run_main(capsys, "--debug", "rules", "SWP")
    assert code == 4
    assert err.startswith("Traceback (most recent call last):\n")
    assert err.endswith("--debug shows the traceback\n")


@pytest.mark.parametrize("command", COMMANDS)
def test_help_is_rendered_as_written_with_one_example(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    code, out, _ = run_main(capsys, command, "-h")
    assert code == 0
    for artefact in ("<bool>", "<str>", "<list", "{input}", "{INPUT}", "<int>"):
        assert artefact not in out
    lines = out.splitlines()
    example = lines.index("  Example:")
    assert lines[example + 1].startswith(
        f"      vmanalyze {'' if command == 'analyze' else command}"
    )
    assert not lines[example + 2].startswith("      vmanalyze")  # one example
    if command == "analyze":
        assert "[rules.CODE] settings, [host] role" in " ".join(out.split())
        assert lines[0] == "Usage: vmanalyze analyze [OPTIONS] INPUT"


def test_top_level_help_names_the_shorthand_and_completion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_main(capsys, "-h")
    assert code == 0
    assert "`vmanalyze INPUT` is short for `vmanalyze analyze INPUT`" in " ".join(out.split())
    assert "--install-completion" in out
    code, out, _ = run_main(capsys, "--show-completion", "bash")
    assert code == 0 and "_vmanalyze_completion" in out


def test_rules_by_code_name_or_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    code, by_name, _ = run_main(capsys, "rules", "swap-thrashing")
    assert code == 0 and by_name.startswith("# swap-thrashing (SWP001)\n")
    assert run_main(capsys, "rules", "swp001")[1] == by_name
    code, by_prefix, _ = run_main(capsys, "rules", "swap")
    rows = [line.split("│")[1].strip() for line in by_prefix.splitlines() if "│" in line]
    assert (code, rows) == (0, ["SWP001", "SWP002", "SWP003"])  # names starting "swap"
    code, out, err = run_main(capsys, "rules", "nothing-like-this")
    assert (code, out) == (2, "")
    assert err.startswith("vmanalyze: error: no rule with code, name or prefix 'nothing-like-this'")


def test_rules_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "rules", "--format", "json")
    listed = json.loads(out)
    assert code == 0 and len(listed) >= 17
    assert {"code", "name", "severity", "summary", "package", "version"} <= set(listed[0])
    code, out, _ = run_main(capsys, "rules", "SWP001", "-f", "json")
    one = json.loads(out)
    assert (one["code"], one["name"]) == ("SWP001", "swap-thrashing")
    assert one["documentation"].startswith("# swap-thrashing (SWP001)")
    assert all({"name", "default", "type", "doc"} == set(s) for s in one["settings"])


def test_warnings_and_summary_from_a_hostile_input_stay_text(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    make_analysis: MakeAnalysis,
    tmp_path: Path,
) -> None:
    from vmanalyze import analysis as analysis_module
    from vmanalyze.rule import Finding

    crafted = make_analysis(
        [Finding("pid 7 [red]x", subject="process:7:\x1b]0;t\x07", code="EXA001", name="e")],
        hostname="db01[/]",
        warnings=["proc/meminfo: bad record \x1b[31m[/]"],
    )
    monkeypatch.setattr(analysis_module, "analyze", lambda *a, **k: crafted)
    monkeypatch.setattr("vmreports.render_html", lambda analysis: "<html></html>", raising=True)
    monkeypatch.chdir(tmp_path)
    bundle = tmp_path / "x.tar.gz"
    bundle.write_bytes(b"unused")
    code, out, err = run_main(capsys, str(bundle))
    assert code == 0
    assert "\x1b" not in out + err and "\x07" not in out
    assert err == "warning: proc/meminfo: bad record \\x1b[31m[/]\n"
    assert out.startswith("db01[/]  kernel")
    assert "process:7:\\x1b]0;t\\x07" in out and "pid 7 [red]x" in out
    assert os.path.isfile(tmp_path / "x.report.html")


def test_an_input_path_that_is_not_utf8_reaches_every_output(tmp_path: Path) -> None:
    """A bundle saved under a name with a byte that is not UTF-8 (a customer's file system):
    the JSON, the report and the terminal all get a readable name, with U+FFFD for the byte."""
    name = os.fsdecode(b"db01-\xff.tar.gz")
    target = tmp_path / name
    target.write_bytes(SWAP_BUNDLE.read_bytes())
    out = tmp_path / "r.json"
    done = vmanalyze("--no-cache", "--format", "json", "-o", str(out), str(target))
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["input"]["name"] == "db01-\ufffd.tar.gz"
    html = tmp_path / "r.html"
    assert vmanalyze("--no-cache", "-o", str(html), str(target)).returncode == 0
    assert "db01-\ufffd.tar.gz" in html.read_text(encoding="utf-8")
