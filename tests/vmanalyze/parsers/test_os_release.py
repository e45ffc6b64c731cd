"""/etc/os-release parser on a real capture."""

from __future__ import annotations

import pytest
from vmanalyze.errors import ParseError
from vmanalyze.parsers.os_release import parse_os_release


def test_whole_record_of_real_capture(fixture_text):
    # cat etc/os-release
    assert parse_os_release(fixture_text("etc/os-release")) == {
        "pretty_name": "Debian GNU/Linux 12 (bookworm)",
        "name": "Debian GNU/Linux",
        "version_id": "12",
        "version": "12 (bookworm)",
        "version_codename": "bookworm",
        "id": "debian",
        "home_url": "https://www.debian.org/",
        "support_url": "https://www.debian.org/support",
        "bug_report_url": "https://bugs.debian.org/",
    }


def test_comments_single_quotes_and_escapes():
    text = '# comment\nNAME=\'Red Hat Enterprise Linux\'\nVARIANT="Server \\"X\\""\n'
    assert parse_os_release(text) == {"name": "Red Hat Enterprise Linux", "variant": 'Server "X"'}


def test_errors():
    with pytest.raises(ParseError):
        parse_os_release("NAME\n")
    with pytest.raises(ParseError):
        parse_os_release('NAME="unterminated\n')
