"""README.md's "Exit status" table is vmanalyze.exit_codes, status by status."""

from __future__ import annotations

import re
from pathlib import Path

from vmanalyze import exit_codes

README = Path(__file__).resolve().parents[3] / "README.md"


def _documented() -> list[int]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Exit status") :]
    section = section[: section.index("\n\n", section.index("| --- |"))]
    return [int(m) for m in re.findall(r"^\| (\d+) \|", section, re.M)]


def test_readme_documents_every_exit_code_and_no_other() -> None:
    codes = sorted(getattr(exit_codes, name) for name in exit_codes.__all__)
    assert _documented() == codes == [0, 1, 2, 3, 4, 130, 141]


def test_the_commands_use_the_named_codes() -> None:
    from vmanalyze.cli import common

    assert common.EXIT_INPUT_FAILED == exit_codes.INPUT_FAILED
    assert common.EXIT_FAIL_ON == exit_codes.FINDINGS
    assert common.EXIT_BROKEN_PIPE == exit_codes.BROKEN_PIPE
