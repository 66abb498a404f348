"""The funder site: static dashboards rebuilt from the published zone after every publication."""

import dagster as dg

from pipelines.assets.partitions import periods
from pipelines.assets.releases import published_release
from pipelines.assets.resources import HubResource


@dg.asset(
    partitions_def=periods,
    deps=[published_release],
    group_name="releases",
    kinds={"html", "plotly"},
)
def funder_site(context: dg.AssetExecutionContext, hub: HubResource) -> dg.MaterializeResult[None]:
    """The static dashboards site in ``<home>/site``: one HTML page per view and per NGO, each
    chart with its table and CSV download, built from the published zone only (every period's
    current release, so any period's materialisation rebuilds the whole site)."""
    from dashboards import build_site

    home = hub.layout()
    report = build_site(home.published_db, home.site)
    largest, size = report.largest
    return dg.MaterializeResult(
        metadata={
            "pages": len(report.pages),
            "CSV downloads": report.downloads,
            "largest page": f"{largest} ({size / 1000:.0f} KB)",
            "seconds": round(report.seconds, 2),
            "report card": dg.MetadataValue.path(str(report.index)),
        }
    )
