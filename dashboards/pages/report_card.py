"""The report card (``index.html``): the three RBA questions and their headline numbers."""

from __future__ import annotations

from dashboards import labels
from dashboards.charts import Downloads, make_chart
from dashboards.page import Page, Section, Tile, tile
from dashboards.zone import Zone

SHARES = ("share_satisfied_overall", "share_paired_overall", "share_improved_overall")
_MORE = {
    "how_much": (
        ("programmes.html", "Programmes"),
        ("regions.html", "Regions"),
        ("equity.html", "Equity"),
    ),
    "how_well": (("programmes.html", "Programmes: satisfaction, assessments and exits"),),
    "better_off": (("outcomes.html", "Outcomes: change in every domain, and its distribution"),),
}


def headline_tiles(zone: Zone, question: str) -> tuple[Tile, ...]:
    return tuple(
        tile(
            zone,
            m,
            zone.pooled(m),
            zone.pooled(m, zone.previous) if zone.previous else None,
        )
        for m in zone.headlines(question)
    )


def pages(zone: Zone, downloads: Downloads) -> list[Page]:
    latest = zone.latest
    if latest is None:
        return [
            Page(
                "index.html",
                "Report card",
                "index",
                intro=(
                    "Nothing has been released yet. The report card fills in after the first release.",
                ),
            )
        ]
    since = f" and the change since {zone.previous}" if zone.previous else ""
    sections = [
        Section(
            heading=labels.QUESTIONS[q],
            id=q,
            tiles=headline_tiles(zone, q),
            links=tuple((href, text, "") for href, text in _MORE[q]),
        )
        for q in labels.QUESTIONS
    ]
    shares = [m for m in SHARES if m in zone.measures]
    if shares:
        cells = [zone.one(zone.pooled(m)) for m in shares]
        chart = make_chart(
            zone,
            downloads,
            id="headline-shares",
            download="report-card/headline-shares",
            title=f"Headline shares, {latest}",
            caption=(
                "Satisfaction, paired assessments and improvement across all NGOs. Dots are the "
                "published values; bars are their 95% intervals."
            ),
            category_title="Measure",
            categories=[zone.measure(m).title for m in shares],
            series=[("All NGOs", cells)],
            unit="share",
            value_title="Share of clients",
            bars=False,
            horizontal=True,
        )
        sections.append(Section(heading="The shares at a glance", id="shares", charts=(chart,)))
    return [
        Page(
            "index.html",
            "Report card",
            "index",
            intro=(
                f"The headline numbers for {latest}, with their 95% intervals{since}, "
                "grouped by the three questions of Results-Based Accountability.",
                "Every number is a differentially private estimate: no individual record ever "
                "reached this site. The Methodology page says what the intervals and flags mean.",
            ),
            sections=tuple(sections),
        )
    ]
