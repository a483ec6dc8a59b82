"""CSV cells: formula injection neutralised (also in full width and behind invisible characters); the
stream starts with a BOM and uses CRLF."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- Formula characters behind invisible characters, in full width, after whitespace (issue 11 §3) ---

INVISIBLE = [
    " ",  # space
    "\u3000",  # ideographic space
    "\u00a0",  # no-break space
    "\n",
    "\u200b",  # zero-width space
    "\u200c",  # zero-width non-joiner
    "\u200d",  # zero-width joiner
    "\ufeff",  # BOM / zero-width no-break space
    "\u2060",  # word joiner
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u061c",  # Arabic letter mark
    "\u00ad",  # soft hyphen
    "\u034f",  # combining grapheme joiner
    "\ufe0f",  # variation selector 16
    "\u3164",  # Hangul filler
    "\x00",
]
FORMULA_STARTS = ["=", "+", "-", "@", "＝", "＋", "－", "＠", "﹦", "﹢", "﹣", "﹫", "−", "⁼", "₊"]


@pytest.mark.parametrize("start", FORMULA_STARTS)
@pytest.mark.parametrize("hidden", ["", *INVISIBLE, "\u200b\u200e\ufeff", " \t", "\u3000\u3000"], ids=repr)
def test_a_formula_behind_invisible_characters_or_in_full_width_is_neutralised(hidden, start):
    text = f'{hidden}{start}HYPERLINK("http://evil.example","x")'
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize(
    "value",
    ["\t", "\r", "\tメモ", "\r\n行", "\t\u200b"],
    ids=repr,
)
def test_a_leading_tab_or_carriage_return_is_always_prefixed(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize(
    "value",
    ["津久見 花子", "\u200b花子", " 花子", "\u3000相談", "ー（長音）", "1-2-3", "a@b.example", "\u200b", "   ", "＃1"],
    ids=repr,
)
def test_text_that_is_no_formula_is_left_alone(value):
    assert neutralise(value) == value


invisible_chars = st.one_of(
    st.sampled_from(INVISIBLE),
    st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me"], exclude_characters="\t\r"),
)


@given(
    hidden=st.text(invisible_chars, max_size=6),
    start=st.sampled_from(FORMULA_STARTS),
    rest=st.text(max_size=30),
)
@settings(max_examples=300, deadline=None)
def test_property_any_hidden_formula_is_neutralised(hidden, start, rest):
    assert neutralise(hidden + start + rest).startswith("'")


def _first_visible(text: str) -> str:
    return next((c for c in text if not (c.isspace() or unicodedata.category(c) in {"Cc", "Cf", "Mn", "Me"})), "")


@given(st.text(max_size=40))
@settings(max_examples=500, deadline=None)
def test_property_no_cell_opens_as_a_formula(text):
    cell = neutralise(text)
    # Either apostrophe-prefixed (a spreadsheet shows it as text) and otherwise unchanged, or unchanged
    # and its first visible character is not a formula character in any width.
    if cell != text:
        assert cell == "'" + text
    else:
        assert not text.startswith(("\t", "\r"))
        assert unicodedata.normalize("NFKC", _first_visible(text))[:1] not in {"=", "+", "-", "@"}


def test_csv_lines_neutralise_hidden_formulas_in_every_cell():
    text = "".join(csv_lines(["\u200b=見出し"], [["＝1+1"], ["\ufeff@SUM(A1)"], ["\u3000-2"]]))
    lines = text.removeprefix("\ufeff").split("\r\n")
    assert lines[:4] == ["'\u200b=見出し", "'＝1+1", "'\ufeff@SUM(A1)", "'\u3000-2"]
