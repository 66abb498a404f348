"""The statistics a release plan can ask for, and what one client can do to each.

Each statistic states which dataset it reads, which breakdowns it allows or
needs, and its sensitivity: how far adding or removing one client (the
privacy unit: one client of one NGO in one period) can move its vector of
cells, in L2 (which sets the Gaussian noise) and per cell (L-infinity). The
bounds behind these numbers are enforced in SQL by ``pipelines.hub.bounding``;
the neighbour tests check that the SQL keeps every promise made here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

StatisticName = Literal[
    "distinct_clients",
    "sessions",
    "satisfaction_respondents",
    "satisfied_clients",
    "paired_clients",
    "improved_any_clients",
    "change_pairs",
    "change_total",
    "improved_clients",
    "change_distribution",
    "worse_any_clients",
    "group_pairs",
    "group_change_total",
    "group_improved",
    "group_worse",
]
"""The statistics the hub knows. Each has a sensitivity here and an aggregate in
:mod:`pipelines.hub.bounding`, both in tables keyed by this type."""
STATISTIC_NAMES: tuple[StatisticName, ...] = get_args(StatisticName)

EPISODE_DIMENSIONS = (
    "programme",
    "region",
    "age_band",
    "gender",
    "ethnicity",
    "referral_source",
    "exit_reason",
)


GROUP_RESOLUTION = 10
"""A client's mean change in a domain group is counted in tenths of a score point."""


@dataclass(frozen=True)
class Sensitivity:
    """How far one client can move a statistic's cells."""

    l2: float
    per_cell: float

    def __post_init__(self) -> None:
        if not (self.l2 > 0 and self.per_cell > 0):
            raise ValueError(
                f"sensitivities must be positive, got l2={self.l2}, per_cell={self.per_cell}"
            )


@dataclass(frozen=True)
class Limits:
    """The numbers sensitivities depend on: the plan's bounds and the contracts' value ranges."""

    episodes_per_client: int
    sessions_per_episode: int
    change_domains: int
    max_abs_change: int
    domain_groups: int = 2


@dataclass(frozen=True)
class Statistic:
    """A kind of cell value; see each instance's ``description`` for its meaning."""

    name: StatisticName
    description: str
    dataset: str
    kind: Literal["count", "sum"]
    """Both additive and integer-valued: a count of clients or a sum of their values."""
    allowed: tuple[str, ...]
    required: tuple[str, ...] = ()
    wheres: tuple[str, ...] = ()
    rollup_over: tuple[str, ...] = ()
    """Dimensions whose cells can be added up without counting anyone twice (a client is in
    at most one of them, or the statistic is a sum)."""
    signed: bool = False
    """Whether the true value can be negative (a sum of changes); others are clamped at zero."""
    resolution: int = 1
    """Cells hold whole multiples of ``1 / resolution`` (a total of clients' mean changes, in
    tenths of a score point, is counted in tenths so the noise stays on integers)."""

    def sensitivity(self, by: tuple[str, ...], cells: int, limits: Limits) -> Sensitivity:
        """How far one client can move this statistic's ``cells`` cells."""
        return SENSITIVITIES[self.name](limits, cells)


def _one_per_kept_episode(limits: Limits, cells: int) -> Sensitivity:
    # At most one count per cell, in at most as many cells as the client has kept episodes.
    return Sensitivity(math.sqrt(min(limits.episodes_per_client, cells)), 1.0)


def _all_sessions_in_one_cell(limits: Limits, _cells: int) -> Sensitivity:
    # All of a client's kept, clipped sessions may fall in one cell.
    total = float(limits.episodes_per_client * limits.sessions_per_episode)
    return Sensitivity(total, total)


def _one_row_per_client(_limits: Limits, _cells: int) -> Sensitivity:
    return Sensitivity(1.0, 1.0)


def _one_per_domain(limits: Limits, cells: int) -> Sensitivity:
    # One chosen pair per client and domain: one count in each domain's cells at most.
    return Sensitivity(math.sqrt(min(limits.change_domains, cells)), 1.0)


def _one_change_per_domain(limits: Limits, cells: int) -> Sensitivity:
    worst = float(limits.max_abs_change)
    return Sensitivity(worst * math.sqrt(min(limits.change_domains, cells)), worst)


def _one_per_domain_group(limits: Limits, cells: int) -> Sensitivity:
    # One count per client and domain group (their domains averaged): one cell per group at most.
    return Sensitivity(math.sqrt(min(limits.domain_groups, cells)), 1.0)


def _one_mean_change_per_domain_group(limits: Limits, cells: int) -> Sensitivity:
    # A client's mean change over a group's domains, in tenths, is at most max_abs_change * 10.
    worst = float(limits.max_abs_change * GROUP_RESOLUTION)
    return Sensitivity(worst * math.sqrt(min(limits.domain_groups, cells)), worst)


SENSITIVITIES: dict[StatisticName, Callable[[Limits, int], Sensitivity]] = {
    "distinct_clients": _one_per_kept_episode,
    "sessions": _all_sessions_in_one_cell,
    "satisfaction_respondents": _one_row_per_client,
    "satisfied_clients": _one_row_per_client,
    "paired_clients": _one_per_kept_episode,
    "improved_any_clients": _one_row_per_client,
    "change_pairs": _one_per_domain,
    "change_total": _one_change_per_domain,
    "improved_clients": _one_per_domain,
    "change_distribution": _one_per_domain,
    "worse_any_clients": _one_row_per_client,
    "group_pairs": _one_per_domain_group,
    "group_change_total": _one_mean_change_per_domain_group,
    "group_improved": _one_per_domain_group,
    "group_worse": _one_per_domain_group,
}
"""Each statistic's sensitivity, given the plan's limits and the number of cells."""


_ASSESSED = ("programme", "region")
_CLIENT_GROUPS = ("domain_group", "ethnicity", "age_band", "gender")
"""A client's mean change in a domain group is broken down by who they are (their latest kept
episode's ethnicity, age band and gender), so each client is in one cell per group."""

STATISTICS: dict[StatisticName, Statistic] = {
    s.name: s
    for s in (
        Statistic(
            "distinct_clients",
            "distinct consenting clients with a kept episode in the cell",
            "episodes",
            "count",
            EPISODE_DIMENSIONS,
            wheres=("exited",),
        ),
        Statistic(
            "sessions",
            "sessions delivered in kept episodes, each episode clipped to the bound",
            "episodes",
            "sum",
            EPISODE_DIMENSIONS,
            rollup_over=EPISODE_DIMENSIONS,
        ),
        Statistic(
            "satisfaction_respondents",
            "clients with a satisfaction score (their latest)",
            "assessments",
            "count",
            _ASSESSED,
            rollup_over=_ASSESSED,
        ),
        Statistic(
            "satisfied_clients",
            "clients whose latest satisfaction score is at or above the threshold",
            "assessments",
            "count",
            _ASSESSED,
            rollup_over=_ASSESSED,
        ),
        Statistic(
            "paired_clients",
            "clients with a first and a later score in an outcome domain",
            "assessments",
            "count",
            _ASSESSED,
        ),
        Statistic(
            "improved_any_clients",
            "clients whose score improved in at least one outcome domain",
            "assessments",
            "count",
            (),
        ),
        Statistic(
            "change_pairs",
            "clients with a first and a later score in the domain (latest pair)",
            "assessments",
            "count",
            ("domain", *_ASSESSED),
            required=("domain",),
            rollup_over=_ASSESSED,
        ),
        Statistic(
            "change_total",
            "the sum of later minus first score over those clients",
            "assessments",
            "sum",
            ("domain", *_ASSESSED),
            required=("domain",),
            rollup_over=("domain", *_ASSESSED),
            signed=True,
        ),
        Statistic(
            "improved_clients",
            "those clients whose later score is higher than their first",
            "assessments",
            "count",
            ("domain", *_ASSESSED),
            required=("domain",),
            rollup_over=_ASSESSED,
        ),
        Statistic(
            "change_distribution",
            "those clients by the size of their change in score",
            "assessments",
            "count",
            ("domain", "change", *_ASSESSED),
            required=("domain", "change"),
            rollup_over=_ASSESSED,
        ),
        Statistic(
            "worse_any_clients",
            "clients whose score got worse in at least one outcome domain",
            "assessments",
            "count",
            (),
        ),
        Statistic(
            "group_pairs",
            "clients with a first and a later score in the domain group",
            "assessments",
            "count",
            _CLIENT_GROUPS,
            required=("domain_group",),
            rollup_over=_CLIENT_GROUPS[1:],
        ),
        Statistic(
            "group_change_total",
            "the sum over those clients of their mean change in the group's domains",
            "assessments",
            "sum",
            _CLIENT_GROUPS,
            required=("domain_group",),
            rollup_over=_CLIENT_GROUPS,
            signed=True,
            resolution=GROUP_RESOLUTION,
        ),
        Statistic(
            "group_improved",
            "those clients whose mean change in the group is above zero",
            "assessments",
            "count",
            _CLIENT_GROUPS,
            required=("domain_group",),
            rollup_over=_CLIENT_GROUPS[1:],
        ),
        Statistic(
            "group_worse",
            "those clients whose mean change in the group is below zero",
            "assessments",
            "count",
            _CLIENT_GROUPS,
            required=("domain_group",),
            rollup_over=_CLIENT_GROUPS[1:],
        ),
    )
}
