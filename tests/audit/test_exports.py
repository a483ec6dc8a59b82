"""CSV cells: formula injection neutralised; the stream starts with a BOM and uses CRLF."""

from __future__ import annotations

import pytest

from referral_engine.audit.exports import csv_lines, neutralise


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+81-972", "'+81-972"),
        ("-5", "'-5"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("津久見 花子", "津久見 花子"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (12, "12"),
        (True, "1"),
    ],
)
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def test_csv_lines_bom_header_and_quoting():
    text = "".join(csv_lines(["日時", "=見出し"], [["2026-04-01", '=HYPERLINK("x")'], ["a,b", "改行\nあり"]]))
    assert text.startswith("\ufeff日時,'=見出し\r\n")
    assert '"\'=HYPERLINK(""x"")"' in text
    assert '"a,b","改行\nあり"\r\n' in text
