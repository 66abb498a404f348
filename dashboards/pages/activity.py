"""Programmes and Regions: clients served, sessions, satisfaction and exits, one click apart.

Each programme on the Programmes page links to its own section of the Regions
page (its clients and sessions by region), which links straight back.
"""

from __future__ import annotations

from dashboards import labels
from dashboards.charts import Chart, Downloads, measure_chart
from dashboards.page import Page, Section
from dashboards.zone import Cell, Zone


def _anchor(programme: str) -> str:
    return f"programme-{labels.slug(programme)}"


def _charts(*charts: Chart | None) -> tuple[Chart, ...]:
    return tuple(c for c in charts if c is not None)


def _programmes(zone: Zone) -> list[str]:
    values = {
        c.keys["programme"] for c in zone.pooled("clients_by_programme") if "programme" in c.keys
    }
    values |= {
        c.keys["programme"]
        for c in zone.pooled("clients_by_programme_region")
        if "programme" in c.keys
    }
    return labels.ordered("programme", values)


def programmes_page(zone: Zone, downloads: Downloads) -> Page:
    programmes = _programmes(zone)
    to_regions = {p: f"regions.html#{_anchor(p)}" for p in programmes}

    def chart(
        measure: str, caption: str, series: str | None = None, links: bool = False
    ) -> Chart | None:
        return measure_chart(
            zone,
            downloads,
            id=measure,
            download=f"programmes/{measure}",
            measure=measure,
            cells=zone.pooled(measure),
            category="programme",
            series=series,
            caption=caption,
            links=to_regions if links else None,
        )

    served = Section(
        heading="Clients served and sessions delivered",
        id="how-much",
        intro=("Select a programme's bar, or its link below, to see its regions.",),
        charts=_charts(
            chart(
                "clients_by_programme",
                "Distinct clients each programme served in the period.",
                links=True,
            ),
            chart("sessions_by_programme", "Sessions delivered by each programme."),
            chart("sessions_per_client", "Sessions delivered per client served, by programme."),
        ),
    )
    well = Section(
        heading="How well the services ran",
        id="how-well",
        charts=_charts(
            chart(
                "share_satisfied",
                "Share of clients asked who said they were satisfied with the service.",
            ),
            chart(
                "share_paired",
                "Share of clients with a first and a later assessment; the dashed line is the target.",
            ),
            chart(
                "exits_by_reason",
                "Clients who left a service in the period, by programme and the reason they left.",
                series="exit_reason",
            ),
        ),
    )
    regions = Section(
        heading="Each programme's regions",
        id="programmes",
        links=tuple(
            (
                to_regions[p],
                f"{labels.value_label('programme', p)}: clients and sessions by region",
                _anchor(p),
            )
            for p in programmes
        ),
    )
    return Page(
        "programmes.html",
        "Programmes",
        "programmes",
        intro=(
            f"What each programme did in {zone.latest_label}, and how well, with 95% intervals.",
        ),
        sections=(served, well, regions),
    )


def _of_programme(cells: list[Cell], programme: str) -> list[Cell]:
    return [c for c in cells if c.keys.get("programme") == programme]


def regions_page(zone: Zone, downloads: Downloads) -> Page:
    def chart(measure: str, caption: str) -> Chart | None:
        return measure_chart(
            zone,
            downloads,
            id=measure,
            download=f"regions/{measure}",
            measure=measure,
            cells=zone.pooled(measure),
            category="region",
            caption=caption,
        )

    sections = [
        Section(
            heading="All programmes",
            id="all",
            charts=_charts(
                chart("clients_by_region", "Distinct clients served in each region."),
                chart("sessions_by_region", "Sessions delivered in each region."),
                chart(
                    "sessions_per_client_by_region",
                    "Sessions delivered per client served, by region.",
                ),
            ),
        )
    ]
    clients = zone.pooled("clients_by_programme_region")
    sessions = zone.pooled("sessions_by_programme_region")
    for programme in _programmes(zone):
        name = labels.value_label("programme", programme)
        charts = []
        for measure, cells, what in (
            ("clients_by_programme_region", clients, "Clients served"),
            ("sessions_by_programme_region", sessions, "Sessions delivered"),
        ):
            made = measure_chart(
                zone,
                downloads,
                id=f"{labels.slug(programme)}-{measure}",
                download=f"regions/{labels.slug(programme)}/{measure}",
                measure=measure,
                cells=_of_programme(cells, programme),
                category="region",
                title=f"{what} by region: {name}",
                caption=f"{what} by the {name} programme in each region.",
            )
            if made is not None:
                charts.append(made)
        sections.append(
            Section(
                heading=name,
                id=_anchor(programme),
                links=(
                    (
                        f"programmes.html#{_anchor(programme)}",
                        f"Back to {name} on the Programmes page",
                        "",
                    ),
                ),
                charts=tuple(charts),
            )
        )
    return Page(
        "regions.html",
        "Regions",
        "regions",
        intro=(
            f"Clients served and sessions delivered in each region in {zone.latest_label}, for all "
            "programmes and then for each programme, with 95% intervals.",
        ),
        sections=tuple(sections),
    )


def pages(zone: Zone, downloads: Downloads) -> list[Page]:
    return [programmes_page(zone, downloads), regions_page(zone, downloads)]
