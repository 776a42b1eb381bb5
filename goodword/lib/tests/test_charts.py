"""Server-drawn SVG bar charts: one bar per value at the right height, a title and a label for
screen readers, the numbers again in a table, and every label escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from goodword.lib import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(figure: str) -> ET.Element:
    # The figure is well-formed XML as well as HTML, so the standard library can read it.
    return ET.fromstring(figure)


def bars_of(figure: str) -> list[dict[str, str]]:
    return [dict(rect.attrib) for rect in parse(figure).iter(f"{SVG}rect")]


def table_of(figure: str) -> list[list[str]]:
    table = parse(figure).find("details/table")
    assert table is not None
    return [["".join(cell.itertext()) for cell in row] for row in table.iter("tr")]


def test_one_bar_per_point_with_heights_in_proportion():
    # given three weeks, one of them empty
    points = [("2026-01-05", 40), ("2026-01-12", 0), ("2026-01-19", 100)]
    # when they are drawn
    figure = charts.bars(points, title="Events per week", value_header="Events")
    bars = bars_of(figure)
    # then each has a bar carrying its label and value, the empty week one of height 0
    assert [(b["data-label"], b["data-value"]) for b in bars] == [
        ("2026-01-05", "40"),
        ("2026-01-12", "0"),
        ("2026-01-19", "100"),
    ]
    plot = charts.HEIGHT - charts.TOP - charts.BOTTOM
    assert [float(b["height"]) for b in bars] == [plot * 0.4, 0.0, float(plot)]
    # and every bar stands on the axis
    assert {float(b["y"]) + float(b["height"]) for b in bars} == {charts.HEIGHT - charts.BOTTOM}


def test_chart_has_a_title_a_label_and_its_numbers_in_a_table():
    figure = charts.bars(
        [("Promoters", 3), ("Detractors", 1.5)],
        title="NPS answers",
        label_header="Category",
        value_header="Answers",
    )
    svg = parse(figure).find(f"{SVG}svg")
    assert svg is not None
    assert (svg.get("role"), svg.get("aria-label")) == ("img", "NPS answers")
    assert svg.findtext(f"{SVG}title") == "NPS answers"
    assert table_of(figure) == [
        ["Category", "Answers"],
        ["Promoters", "3"],
        ["Detractors", "1.50"],
    ]
    assert parse(figure).findtext("details/summary") == "The numbers"


def test_every_label_and_title_is_escaped():
    hostile = '<script>alert("x")</script>" onmouseover="alert(1)'
    figure = charts.grouped_bars(
        [hostile],
        [charts.Series(hostile, [1])],
        title=hostile,
        label_header=hostile,
        classes=['a" onclick="alert(1)'],
    )
    assert "<script>" not in figure
    assert 'onmouseover="' not in figure
    assert 'onclick="' not in figure
    # and the text still reads as written
    bar = bars_of(figure)[0]
    assert (bar["data-label"], bar["data-series"]) == (hostile, hostile)
    assert bar["class"] == "bar s0 aonclickalert1"
    assert table_of(figure)[1] == [hostile, "1"]


def test_grouped_bars_put_each_series_side_by_side_with_a_legend():
    figure = charts.grouped_bars(
        ["13:00", "14:00"],
        [charts.Series("Received", [10, 4]), charts.Series("Stored", [8, 4])],
        title="Per hour",
        label_header="Hour",
    )
    bars = bars_of(figure)
    assert [(b["data-label"], b["data-series"], b["data-value"]) for b in bars] == [
        ("13:00", "Received", "10"),
        ("13:00", "Stored", "8"),
        ("14:00", "Received", "4"),
        ("14:00", "Stored", "4"),
    ]
    assert [b["class"] for b in bars] == ["bar s0", "bar s1", "bar s0", "bar s1"]
    # the stored bar of an hour is right of its received bar, and no wider
    assert float(bars[1]["x"]) == pytest.approx(float(bars[0]["x"]) + float(bars[0]["width"]))
    legend = parse(figure).find("ul")
    assert legend is not None
    assert ["".join(li.itertext()) for li in legend] == ["Received", "Stored"]
    assert table_of(figure)[0] == ["Hour", "Received", "Stored"]


def test_only_every_nth_label_is_written_under_the_bars_but_all_are_in_the_table():
    points = [(f"w{i}", i) for i in range(10)]
    figure = charts.bars(points, title="Weeks", label_every=4)
    svg = parse(figure).find(f"{SVG}svg")
    assert svg is not None
    under = [t.text for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "middle"]
    assert under == ["w0", "w4", "w8"]
    assert len(table_of(figure)) == 11


def test_nothing_to_chart_says_so_in_words():
    figure = charts.bars([], title="Events <per> week")
    assert (
        figure == '<p class="chart-empty muted">Events &lt;per&gt; week: nothing to show yet.</p>'
    )


@pytest.mark.parametrize(
    ("series", "message"),
    [
        (charts.Series("a", [1, 2]), "'a' has 2 values for 1 labels"),
        (charts.Series("a", [-1]), "'a' has a negative value; bars start at zero"),
    ],
)
def test_values_that_cannot_be_drawn_are_refused(series, message):
    with pytest.raises(ValueError, match=message):
        charts.grouped_bars(["x"], [series], title="t")


@pytest.mark.parametrize(
    ("peak", "top"),
    [(0, 1), (1, 1), (3, 5), (10, 10), (11, 20), (340, 500), (0.3, 0.5), (2000, 2000)],
)
def test_the_value_axis_ends_at_a_round_number(peak, top):
    assert charts.nice_top(peak) == pytest.approx(top)
