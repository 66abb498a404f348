"""``outcomes site``: build the funder site from the published zone (and nothing else)."""

from __future__ import annotations

from pathlib import Path

import click

from pipelines.cli.options import HubFailure, console, home_option
from pipelines.home import Home


@click.command("site")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the site. Default: <home>/site.",
)
@home_option
def site(out: Path | None, home: Home) -> None:
    """Build the static dashboards site (report card, programmes, regions, outcomes, equity,
    trends, one page per NGO, steward, methodology) from the published zone only.

    The site needs no network: open its index.html from disk or serve the folder
    from any static web server.
    """
    from dashboards import SiteError, build_site
    from dashboards.pages.methodology import UnexplainedFlag
    from pipelines.published.store import NotPublished

    target = (out or home.site).expanduser().resolve()
    try:
        report = build_site(home.published_db, target)
    except (NotPublished, SiteError, UnexplainedFlag) as exc:
        raise HubFailure(str(exc)) from None
    path, size = report.largest
    console.print(
        f"Built {len(report.pages):,} pages and {report.downloads:,} CSV downloads in "
        f"{report.seconds:.1f} s (largest page {path}, {size / 1000:.0f} KB)."
    )
    console.print(f"Report card: {report.index}")


COMMANDS = (site,)
