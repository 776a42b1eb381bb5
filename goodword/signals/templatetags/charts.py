"""`{% load charts %}`: the server-drawn SVG charts of goodword.lib.charts as template tags,
for every template (goodword.lib is not an app, so its tags live here):

    {% bars points title="Events per week" label_header="Week" value_header="Events" %}
"""

from __future__ import annotations

from django import template

from goodword.lib import charts

register = template.Library()
register.simple_tag(charts.bars, name="bars")
register.simple_tag(charts.grouped_bars, name="grouped_bars")
