"""Contribution bounding and exact aggregation, in SQL over the vault's current rows.

This is where the promises of ``pipelines.privacy.statistics`` are kept:

- a client who withheld consent on any episode is left out of everything;
- a client keeps at most ``episodes_per_client`` episodes, chosen in the
  order of a hash of their (already pseudonymised, so random) episode ids --
  never by key order, which would favour whichever programme sorts first;
- sessions are clipped to ``[0, sessions_per_episode]`` per episode;
- assessments count only on kept episodes; a score pair needs both scores
  (a missing later score is never imputed); per client and outcome domain
  one pair counts, the latest; per client one satisfaction score counts,
  the latest; per client and domain group (circumstances, goals) one change counts:
  the mean of their domains' changes, in tenths of a point.

Aggregates are computed over the full public key set of each breakdown (the
contracts' enums), so empty cells are real zeros and no budget is spent
discovering which keys exist.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pandas as pd

from pipelines.privacy.plan import CHANGE, DOMAIN_GROUP, Measure, ReleasePlan, key_frame
from pipelines.privacy.statistics import GROUP_RESOLUTION, StatisticName
from pipelines.standard.contract import load_contract

BOUNDED_TABLES = (
    "b_episodes",
    "b_assessments",
    "b_pairs",
    "b_changes",
    "b_groups",
    "b_satisfaction",
)


def bound(con: duckdb.DuckDBPyConnection, plan: ReleasePlan, period: str) -> None:
    """Create the bounded temp tables for ``period`` from ``current_episodes``/``current_assessments``."""
    e, s = plan.episodes_per_client, plan.sessions_per_episode
    lo, hi = plan.score_range
    span = hi - lo
    domains = load_contract("assessments").column("domain").enum
    con.register(
        "_domain_category",
        pd.DataFrame(
            {"domain": [d.value for d in domains], "category": [d.category or "" for d in domains]}
        ),
    )
    con.register("_change_categories", pd.DataFrame({"category": list(plan.change_categories)}))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE b_episodes AS
        WITH period_rows AS (SELECT * FROM current_episodes WHERE period = $period),
        withheld AS (
            SELECT DISTINCT ngo_id, client_id FROM period_rows WHERE consent_aggregate = FALSE
        ),
        ranked AS (
            SELECT p.*, row_number() OVER (
                PARTITION BY p.ngo_id, p.client_id ORDER BY md5(p.episode_id), p.episode_id) AS kept_rank
            FROM period_rows p ANTI JOIN withheld w USING (ngo_id, client_id)
        )
        SELECT ngo_id, client_id, episode_id, programme, region, age_band, gender, ethnicity,
               referral_source, start_date, end_date, exit_reason,
               least(greatest(coalesce(sessions, 0), 0), {s}) AS sessions
        FROM ranked WHERE kept_rank <= {e}
        """,
        {"period": period},
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE b_assessments AS
        SELECT a.ngo_id, a.client_id, a.episode_id, a.domain, a.pre_score, a.post_score,
               k.programme, k.region, k.start_date, coalesce(c.category, '') AS category
        FROM current_assessments a
        JOIN b_episodes k USING (ngo_id, client_id, episode_id)
        LEFT JOIN _domain_category c USING (domain)
        WHERE a.period = $period
        QUALIFY row_number() OVER (PARTITION BY a.ngo_id, a.episode_id, a.domain
                                   ORDER BY a.source_row, a.submission_id) = 1
        """,
        {"period": period},
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE b_pairs AS
        SELECT ngo_id, client_id, episode_id, domain, category, programme, region, start_date,
               least(greatest(post_score - pre_score, {-span}), {span}) AS change
        FROM b_assessments
        WHERE category IN (SELECT category FROM _change_categories)
          AND pre_score IS NOT NULL AND post_score IS NOT NULL
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE b_changes AS
        SELECT ngo_id, client_id, domain, category, programme, region, change FROM b_pairs
        QUALIFY row_number() OVER (PARTITION BY ngo_id, client_id, domain
                                   ORDER BY start_date DESC, md5(episode_id), episode_id) = 1
        """
    )
    # One row per client and domain group: the mean of their (one per domain) changes in the
    # group, in tenths of a point, with who they are as their latest kept episode says.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE b_groups AS
        WITH who AS (
            SELECT ngo_id, client_id, ethnicity, age_band, gender FROM b_episodes
            QUALIFY row_number() OVER (PARTITION BY ngo_id, client_id
                                       ORDER BY start_date DESC, md5(episode_id), episode_id) = 1
        )
        SELECT c.ngo_id, c.client_id, c.category AS {DOMAIN_GROUP}, w.ethnicity, w.age_band,
               w.gender, avg(c.change) AS mean_change,
               CAST(round(avg(c.change) * {GROUP_RESOLUTION}) AS BIGINT) AS change_tenths
        FROM b_changes c JOIN who w USING (ngo_id, client_id)
        GROUP BY c.ngo_id, c.client_id, c.category, w.ethnicity, w.age_band, w.gender
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE b_satisfaction AS
        SELECT ngo_id, client_id, programme, region, coalesce(post_score, pre_score) AS score
        FROM b_assessments WHERE domain = $domain AND coalesce(post_score, pre_score) IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY ngo_id, client_id
                                   ORDER BY start_date DESC, md5(episode_id), episode_id) = 1
        """,
        {"domain": plan.satisfaction_domain},
    )
    con.unregister("_domain_category")
    con.unregister("_change_categories")


_CLIENTS = "count(DISTINCT (ngo_id, client_id))"

Aggregate = Callable[[Measure, ReleasePlan], tuple[str, str]]
"""A statistic's aggregate: (value expression, FROM clause with any filter) over bounded tables."""


def _clients(measure: Measure, _plan: ReleasePlan) -> tuple[str, str]:
    exited = "WHERE end_date IS NOT NULL AND exit_reason IS NOT NULL"
    return _CLIENTS, f"b_episodes {exited if measure.where == 'exited' else ''}"


def _satisfied(_measure: Measure, plan: ReleasePlan) -> tuple[str, str]:
    return f"count(*) FILTER (WHERE score >= {int(plan.satisfied_at_or_above)})", "b_satisfaction"


AGGREGATES: dict[StatisticName, Aggregate] = {
    "distinct_clients": _clients,
    "sessions": lambda _m, _p: ("sum(sessions)", "b_episodes"),
    "satisfaction_respondents": lambda _m, _p: ("count(*)", "b_satisfaction"),
    "satisfied_clients": _satisfied,
    "paired_clients": lambda _m, _p: (_CLIENTS, "b_pairs"),
    "improved_any_clients": lambda _m, _p: (_CLIENTS, "b_changes WHERE change > 0"),
    "change_pairs": lambda _m, _p: ("count(*)", "b_changes"),
    "change_total": lambda _m, _p: ("sum(change)", "b_changes"),
    "improved_clients": lambda _m, _p: ("count(*) FILTER (WHERE change > 0)", "b_changes"),
    "change_distribution": lambda _m, _p: (
        "count(*)",
        f"(SELECT *, CAST(change AS VARCHAR) AS {CHANGE} FROM b_changes)",
    ),
    "worse_any_clients": lambda _m, _p: (_CLIENTS, "b_changes WHERE change < 0"),
    "group_pairs": lambda _m, _p: ("count(*)", "b_groups"),
    "group_change_total": lambda _m, _p: ("sum(change_tenths)", "b_groups"),
    "group_improved": lambda _m, _p: ("count(*) FILTER (WHERE mean_change > 0)", "b_groups"),
    "group_worse": lambda _m, _p: ("count(*) FILTER (WHERE mean_change < 0)", "b_groups"),
}
"""Each statistic's exact aggregate over the bounded tables, keyed by its name."""


def _aggregate_sql(measure: Measure, plan: ReleasePlan, group: list[str]) -> str:
    cols = ", ".join(f'"{g}"' for g in group)
    value, source = AGGREGATES[measure.statistic.name](measure, plan)
    select = f"{cols}, " if cols else ""
    group_by = f"GROUP BY {cols}" if cols else ""
    return f"SELECT {select}{value} AS value FROM {source} {group_by}"


def exact_cells(
    con: duckdb.DuckDBPyConnection,
    plan: ReleasePlan,
    measure: Measure,
    ngos: list[str] | None = None,
) -> pd.DataFrame:
    """The measure's exact value in every cell (zeros included), per NGO when ``ngos`` is given.

    Requires :func:`bound` to have run on this connection.
    """
    group = (["ngo_id"] if ngos is not None else []) + list(measure.by)
    aggregated = con.execute(_aggregate_sql(measure, plan, group)).to_arrow_table().to_pandas()
    keys = key_frame(plan, measure, ngos)
    if not group:
        value = int(aggregated["value"].fillna(0).iloc[0]) if len(aggregated) else 0
        return keys.assign(value=value)
    aggregated[group] = aggregated[group].astype("str")
    cells = keys.merge(aggregated, on=group, how="left")
    cells["value"] = cells["value"].fillna(0).astype("int64")
    return cells
