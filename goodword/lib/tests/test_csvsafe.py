from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from goodword.lib.csvsafe import csv_lines, neutralise, restore


def test_formula_cells_are_neutralised():
    assert neutralise('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert neutralise("+1") == "'+1"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("\tx") == "'\tx"
    assert neutralise("plain") == "plain"
    assert neutralise(Decimal("-5.00")) == "-5.00"


@given(st.text())
def test_restore_inverts_neutralise(text):
    assert restore(neutralise(text)) == text


def test_csv_lines_streams_header_then_rows():
    lines = list(csv_lines(["a", "b"], [["=1", 2]]))
    assert lines == ["a,b\r\n", "'=1,2\r\n"]
