"""Periods: one page at the site root listing every released period, for readers without
JavaScript (the period picker's fallback).

It is the only page that lists every period in its markup: the picker reads the list from
``assets/periods.js``, so the pages of an earlier period do not change when a period is added.
"""

from __future__ import annotations

from dashboards.page import Page, Section
from dashboards.zone import Zone

PATH = "periods.html"


def page(zone: Zone) -> Page:
    """The list of released periods, newest first, each linking to its folder's home page (the
    site writes it once a period is released)."""
    released = zone.released
    links = tuple(
        (f"{p}/index.html", f"{p} (latest)" if p == released[-1] else p, f"period-{p}")
        for p in reversed(released)
    )
    intro = ("Every released period has a folder of its own; the site root shows the latest.",)
    return Page(
        path=PATH,
        title="Released periods",
        nav="periods",
        intro=intro,
        sections=(Section(heading="Periods", id="periods", links=links),),
    )
