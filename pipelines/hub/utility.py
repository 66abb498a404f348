"""The hub's utility figures: the published zone read beside the hub's own register.

:mod:`pipelines.published.utility` computes the figures from public inputs only; this joins
it to where the hub keeps them (its ``published.duckdb`` and the desk's NGO register), for
``make demo`` and ``make bench`` to print.
"""

from __future__ import annotations

from pipelines.home import Home
from pipelines.published.utility import Figure, published_utility


def utility_figures(home: Home, period: str | None = None) -> list[Figure]:
    """The utility figures of ``period`` (every published period when None) on this hub."""
    from pipelines.hub.desk import register
    from pipelines.hub.desk.store import opened

    with opened(home) as desk:
        listed = register.listing(desk)
    return published_utility(home.published_db, listed, period)
