"""Server-drawn SVG charts.

The first part tests the first, vertical form of `bars` and `grouped_bars` that the signals and
moments pages draw (one bar per value at the right height, the numbers again in a table); the
second part the report charts (horizontal bars, columns over time, a funnel, interval dots)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

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
    figure = charts.bars([], title="Events <per> week", value_header="Events")
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


# --- the report charts -----------------------------------------------------------------------


def svg_of(figure: str) -> ET.Element:
    svg = parse(figure).find(f"{SVG}svg")
    assert svg is not None
    return svg


def drawn(figure: str, tag: str, css: str) -> list[ET.Element]:
    return [e for e in svg_of(figure).iter(f"{SVG}{tag}") if css in e.get("class", "").split()]


def texts(figure: str, css: str) -> list[str]:
    return ["".join(e.itertext()) for e in drawn(figure, "text", css)]


def width(rect: ET.Element) -> float:
    return float(rect.get("width", "nan"))


def test_bars_are_horizontal_with_lengths_in_proportion_and_values_at_their_ends():
    # given three sources, one with nothing yet
    rows: list[tuple[str, charts.Number]] = [
        ("Referral", Decimal("120000")),
        ("Partner", 30000),
        ("Events", 0),
    ]
    # when they are drawn in dollars
    figure = charts.bars(rows, title="Open pipeline by source", unit="USD")
    # then there is one bar per source, their lengths in proportion to the values
    rects = drawn(figure, "rect", "bar")
    assert len(rects) == 3
    assert width(rects[1]) == pytest.approx(width(rects[0]) / 4, abs=0.1)
    assert width(rects[2]) == 0
    # and every bar starts on the zero line and has the same height
    assert {r.get("x") for r in rects} == {drawn(figure, "line", "zero")[0].get("x1")}
    assert {r.get("height") for r in rects} == {"16"}
    # and the values are printed with thousands separators and the unit
    assert texts(figure, "value") == ["120,000 USD", "30,000 USD", "0 USD"]
    assert texts(figure, "label") == ["Referral", "Partner", "Events"]
    assert [r.findtext(f"{SVG}title") for r in rects] == [
        "Referral: 120,000 USD",
        "Partner: 30,000 USD",
        "Events: 0 USD",
    ]


def test_a_chart_is_an_accessible_image_that_scales_and_says_its_figures_in_words():
    figure = charts.bars([("Referral", 1500), ("Partner", 250.5)], title="Pipeline", unit="USD")
    svg = svg_of(figure)
    assert (svg.get("role"), svg.get("width"), svg.get("viewBox")) == ("img", "100%", "0 0 640 82")
    title = svg.find(f"{SVG}title")
    desc = svg.find(f"{SVG}desc")
    assert title is not None
    assert desc is not None
    assert (svg.get("aria-labelledby"), title.text) == (title.get("id"), "Pipeline")
    assert (svg.get("aria-describedby"), desc.text) == (
        desc.get("id"),
        "Referral: 1,500 USD. Partner: 251 USD.",
    )
    # no colour is written into the markup: CSS classes carry them
    assert "fill=" not in figure
    assert "style=" not in figure


def test_the_same_input_gives_the_same_string_and_another_title_another_id():
    rows = [("a", 1.5), ("b", 2)]
    first = charts.bars(rows, title="One")
    assert charts.bars(rows, title="One") == first
    other = charts.bars(rows, title="Two")
    assert svg_of(other).get("aria-labelledby") != svg_of(first).get("aria-labelledby")
    assert svg_of(charts.bars(rows, title="One", chart_id="pipe")).get("aria-labelledby") == (
        "pipe-title"
    )


def test_every_label_is_escaped():
    hostile = "<script>alert('x')</script>"
    figure = charts.grouped_bars([hostile], {hostile: [1], "b": [2]}, title=hostile, unit=hostile)
    assert "<script>" not in figure
    assert svg_of(figure).findtext(f"{SVG}title") == hostile
    assert texts(figure, "label") == [hostile]
    legend = parse(figure).find("ul")
    assert legend is not None
    assert ["".join(li.itertext()) for li in legend] == [hostile, "b"]


def test_a_long_label_is_cut_with_an_ellipsis_and_keeps_its_full_text_as_a_tooltip():
    long = "Inbound web form for the spring conference"
    figure = charts.bars([(long, 1), ("Short", 2)], title="t")
    groups = [g for g in svg_of(figure).iter(f"{SVG}g")]
    assert len(groups) == 1
    assert groups[0].findtext(f"{SVG}title") == long
    assert texts(figure, "label") == ["Inbound web form for the sp…", "Short"]
    assert len(texts(figure, "label")[0]) == charts.MAX_LABEL


def test_negative_values_are_drawn_left_of_the_zero_line_with_their_value_before_them():
    figure = charts.bars([("Up", 30), ("Down", -10)], title="Change", unit="%")
    zero = float(drawn(figure, "line", "zero")[0].get("x1", "nan"))
    up, down = drawn(figure, "rect", "bar")
    assert float(up.get("x", "nan")) == zero
    assert float(down.get("x", "nan")) + width(down) == pytest.approx(zero)
    assert width(down) == pytest.approx(width(up) / 3, abs=0.1)
    assert down.get("class") == "bar series-1 negative"
    values = drawn(figure, "text", "value")
    assert [(v.text, v.get("text-anchor")) for v in values] == [("30%", "start"), ("-10%", "end")]
    assert texts(figure, "tick") == ["-10%", "0%", "10%", "20%", "30%"]


def test_all_zero_data_draws_empty_bars_on_a_zero_to_one_axis():
    figure = charts.bars([("a", 0), ("b", 0)], title="Nothing yet")
    assert [width(r) for r in drawn(figure, "rect", "bar")] == [0, 0]
    assert texts(figure, "tick") == ["0", "1"]
    assert texts(figure, "value") == ["0", "0"]


@pytest.mark.parametrize(
    "chart",
    [
        lambda: charts.bars([], title="Pipeline"),
        lambda: charts.grouped_bars([], {"Open": []}, title="Pipeline"),
        lambda: charts.grouped_bars(["Referral"], {}, title="Pipeline"),
        lambda: charts.columns_over_time([], {"Referred": []}, title="Pipeline"),
        lambda: charts.funnel([], title="Pipeline"),
        lambda: charts.interval_dots([], title="Pipeline"),
    ],
)
def test_no_data_gives_a_short_figure_saying_so(chart):
    figure = chart()
    assert texts(figure, "empty") == ["No data for these filters"]
    assert svg_of(figure).findtext(f"{SVG}desc") == "No data for these filters."
    assert drawn(figure, "rect", "bar") == []


def test_grouped_bars_draw_one_bar_per_series_in_each_group_and_a_legend():
    figure = charts.grouped_bars(
        ["Referral", "Partner"],
        {"Open": [200, 100], "Weighted": [50, 25]},
        title="Open and weighted",
        unit="USD",
    )
    rects = drawn(figure, "rect", "bar")
    assert [r.get("class") for r in rects] == [
        "bar series-1",
        "bar series-2",
        "bar series-1",
        "bar series-2",
    ]
    assert [width(r) for r in rects][1::2] == pytest.approx(
        [width(r) / 4 for r in rects][::2], abs=0.1
    )
    assert texts(figure, "value") == ["200 USD", "50 USD", "100 USD", "25 USD"]
    assert svg_of(figure).findtext(f"{SVG}desc") == (
        "Referral: Open 200 USD, Weighted 50 USD. Partner: Open 100 USD, Weighted 25 USD."
    )
    legend = parse(figure).find("ul")
    assert legend is not None
    assert [(li.get("class"), "".join(li.itertext())) for li in legend] == [
        ("series-1", "Open"),
        ("series-2", "Weighted"),
    ]


def test_a_series_without_one_value_per_category_is_refused():
    with pytest.raises(ValueError, match="'Open' has 1 values for 2 categories"):
        charts.grouped_bars(["a", "b"], {"Open": [1]}, title="t")
    with pytest.raises(ValueError, match="'Value' has a value that is not a finite number"):
        charts.bars([("a", float("nan"))], title="t")


def test_columns_over_time_stand_side_by_side_with_heights_in_proportion():
    figure = charts.columns_over_time(
        ["2026-01", "2026-02"], {"Referred": [40, 20], "Other": [10, 0]}, title="Created"
    )
    rects = drawn(figure, "rect", "bar")
    heights = [float(r.get("height", "nan")) for r in rects]
    assert heights[1] == pytest.approx(heights[0] / 4, abs=0.1)
    assert heights[2] == pytest.approx(heights[0] / 2, abs=0.1)
    assert heights[3] == 0
    # the second series of a month is right of the first, and both stand on the zero line
    assert float(rects[1].get("x", "nan")) == pytest.approx(
        float(rects[0].get("x", "nan")) + float(rects[0].get("width", "nan")), abs=0.1
    )
    zero = float(drawn(figure, "line", "zero")[0].get("y1", "nan"))
    bottoms = {round(float(r.get("y", "nan")) + float(r.get("height", "nan")), 1) for r in rects}
    assert bottoms == {zero}
    assert texts(figure, "tick") == ["0", "10", "20", "30", "40", "2026-01", "2026-02"]
    assert texts(figure, "value") == ["40", "10", "20", "0"]
    assert parse(figure).find("ul") is not None


def test_stacked_columns_put_each_series_on_the_one_before_and_print_the_total():
    figure = charts.columns_over_time(
        ["2026-01"], {"Referred": [30], "Other": [10]}, title="Created", stacked=True
    )
    first, second = drawn(figure, "rect", "bar")
    assert float(second.get("y", "nan")) + float(second.get("height", "nan")) == pytest.approx(
        float(first.get("y", "nan")), abs=0.1
    )
    assert first.get("x") == second.get("x")
    assert texts(figure, "value") == ["40"]


def test_one_series_of_columns_has_no_legend_and_many_months_are_labelled_sparsely():
    months = [f"2025-{m:02}" for m in range(1, 13)] + ["2026-01", "2026-02", "2026-03"]
    figure = charts.columns_over_time(months, {"Referred": list(range(15))}, title="Created")
    assert parse(figure).find("ul") is None
    assert len(drawn(figure, "rect", "bar")) == 15
    labelled = [t for t in texts(figure, "tick") if "-" in t]
    assert labelled == [
        "2025-01",
        "2025-03",
        "2025-05",
        "2025-07",
        "2025-09",
        "2025-11",
        "2026-01",
        "2026-03",
    ]


def test_stacked_columns_with_negative_values_grow_below_zero():
    figure = charts.columns_over_time(
        ["Q1"], {"A": [5], "B": [-3]}, title="Net", unit="%", stacked=True
    )
    zero = float(drawn(figure, "line", "zero")[0].get("y1", "nan"))
    up, down = drawn(figure, "rect", "bar")
    assert float(up.get("y", "nan")) + float(up.get("height", "nan")) == pytest.approx(zero)
    assert float(down.get("y", "nan")) == pytest.approx(zero)
    assert texts(figure, "tick")[:3] == ["-4%", "-2%", "0%"]


def test_a_funnel_shows_each_count_and_the_conversion_from_the_step_before():
    steps = [("Moments", 1000), ("Asks", 400), ("Intros", 0), ("Deals", 0)]
    figure = charts.funnel(steps, title="Referral funnel")
    rects = drawn(figure, "rect", "bar")
    assert [width(r) for r in rects][1] == pytest.approx(width(rects[0]) * 0.4, abs=0.1)
    # the bars are centred on one line
    centres = [float(r.get("x", "nan")) + width(r) / 2 for r in rects]
    assert max(centres) - min(centres) <= 0.1
    assert texts(figure, "value") == ["1,000", "400 · 40% of previous", "0 · 0% of previous", "0"]
    assert svg_of(figure).findtext(f"{SVG}desc") == (
        "Moments: 1,000. Asks: 400 · 40% of previous. Intros: 0 · 0% of previous. Deals: 0."
    )


def test_a_funnel_refuses_a_negative_count():
    with pytest.raises(ValueError, match="negative count"):
        charts.funnel([("a", 1), ("b", -1)], title="t")


def test_interval_dots_put_a_dot_at_the_estimate_and_a_line_from_low_to_high():
    rows = [("Ann", 40.0, 20.0, 60.0), ("Bob", 80.0, None, None)]
    figure = charts.interval_dots(rows, title="Win rate", unit="%")
    dots = drawn(figure, "circle", "dot")
    assert len(dots) == 2
    zero = float(drawn(figure, "line", "zero")[0].get("x1", "nan"))
    ann, bob = (float(d.get("cx", "nan")) - zero for d in dots)
    assert bob == pytest.approx(2 * ann, abs=0.1)
    whiskers = [e for e in drawn(figure, "line", "interval") if e.get("y1") == e.get("y2")]
    assert sorted(float(w.get("x2", "nan")) - zero for w in whiskers) == pytest.approx(
        [ann / 2, ann * 1.5], abs=0.1
    )
    assert texts(figure, "value") == [f"40% (20%{charts.DASH}60%)", "80%"]
    assert svg_of(figure).findtext(f"{SVG}desc") == "Ann: 40%, 95% interval 20% to 60%. Bob: 80%."


@pytest.mark.parametrize(
    ("low", "high", "ticks"),
    [
        (0, 340, ["0", "100", "200", "300", "400"]),
        (0, 1000, ["0", "200", "400", "600", "800", "1000"]),
        (-50, 120, ["-50", "0", "50", "100", "150"]),
        (0, 0.3, ["0", "0.1", "0.2", "0.3"]),
        (0, 0.04, ["0", "0.01", "0.02", "0.03", "0.04"]),
        (0, 7, ["0", "2", "4", "6", "8"]),
        (12, 17, ["0", "5", "10", "15", "20"]),
        (-3, -1, ["-3", "-2", "-1", "0"]),
        (0, 0, ["0", "1"]),
    ],
)
def test_ticks_are_round_numbers_covering_the_values_and_zero(low, high, ticks):
    assert charts.nice_ticks(low, high) == [Decimal(t) for t in ticks]


def test_tick_labels_print_as_many_decimals_as_their_step_needs():
    figure = charts.bars([("a", 0.3), ("b", 0.15)], title="Small")
    assert texts(figure, "tick") == ["0", "0.1", "0.2", "0.3"]
    figure = charts.bars([("a", 0.04)], title="Smaller", unit="%")
    assert texts(figure, "tick") == ["0%", "0.01%", "0.02%", "0.03%", "0.04%"]


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.1 + 0.2, "", "0.3"),
        (1234567.891, "USD", "1,234,568 USD"),
        (Decimal("182500.50"), "EUR", "182,501 EUR"),
        (12.345, "%", "12.3%"),
        (2.5, "%", "2.5%"),
        (-1500, "", "-1,500"),
        (-0.0001, "", "0"),
        (40.0, "", "40"),
    ],
)
def test_values_print_without_floating_point_noise(value, unit, text):
    assert charts.format_value(value, unit) == text
