"""Helpers for the privacy and release tests: vault rows by hand, test plans, independent truth.

Rows are written straight into the vault's ``episodes``/``assessments`` tables with an
``accepted`` submission per NGO and dataset, so the ``current_*`` views (all a release
reads) show exactly the rows a test chose. :func:`truth` recomputes any statistic with
plain pandas from those rows, independently of the SQL under test; it is exact only for
fixtures that respect the plan's bounds (at most ``episodes_per_client`` episodes per
client, sessions within the cap, one assessment per client and domain, one satisfaction
score per client), which the fixtures here do and :func:`check_within_bounds` asserts.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import yaml

from pipelines.hub.vault.rows import row_columns
from pipelines.hub.vault.schema import ensure_schema
from pipelines.privacy.plan import PLAN_FILE, ReleasePlan, parse_plan
from pipelines.standard.contract import load_contract
from pipelines.standard.periods import Period

PERIOD = "2025-Q3"
START = Period.parse(PERIOD).start
Row = dict[str, Any]


# --- plans --------------------------------------------------------------------------------------


def plan_doc() -> dict[str, Any]:
    """A fresh copy of the release plan's YAML document, to modify."""
    return copy.deepcopy(yaml.safe_load(PLAN_FILE.read_text(encoding="utf-8")))


def plan_with(**changes: Any) -> ReleasePlan:
    """The release plan with top-level keys replaced, e.g. ``reliability={...}``."""
    doc = plan_doc()
    doc.update(changes)
    return parse_plan(doc)


NEVER_WITHHOLD = {
    "value": {"low_above": 1e12, "withhold_above": 1e12},
    "percentage_points": {"low_above": 1e12, "withhold_above": 1e12},
    "score_points": {"low_above": 1e12, "withhold_above": 1e12},
}
"""Reliability thresholds no finite interval exceeds: only an unbounded ratio is withheld."""


# --- rows ---------------------------------------------------------------------------------------


def pseudo(*parts: object) -> str:
    """A 32-hex-digit reference, shaped like the pseudonyms the NGO side writes."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32]


def episode(
    ngo: str,
    client: str,
    episode_id: str,
    *,
    programme: str = "parenting",
    region: str = "Auckland",
    age_band: str = "25-39",
    gender: str = "female",
    ethnicity: str = "european",
    referral_source: str | None = "self",
    start: date | None = None,
    end: date | None = None,
    sessions: int = 4,
    exit_reason: str | None = None,
    consent: bool | None = True,
) -> Row:
    """One episode row (vault types); ``end`` and ``exit_reason`` go together in real data."""
    return {
        "ngo_id": ngo,
        "client_id": client,
        "episode_id": episode_id,
        "programme": programme,
        "region": region,
        "age_band": age_band,
        "gender": gender,
        "ethnicity": ethnicity,
        "referral_source": referral_source,
        "start_date": start or START + timedelta(days=3),
        "end_date": end,
        "sessions": sessions,
        "exit_reason": exit_reason,
        "consent_aggregate": consent,
    }


def assessment(
    ngo: str,
    client: str,
    episode_id: str,
    domain: str,
    pre: int | None,
    *,
    post: int | None = None,
    assessed_by: str | None = "practitioner",
) -> Row:
    return {
        "ngo_id": ngo,
        "client_id": client,
        "episode_id": episode_id,
        "domain": domain,
        "pre_score": pre,
        "post_score": post,
        "assessed_by": assessed_by,
    }


def _typed(rows: Sequence[Row], dataset: str) -> pd.DataFrame:
    columns = [n for n, _t in row_columns(load_contract(dataset))]
    frame = pd.DataFrame(list(rows), columns=[c for c in columns if c not in ("submission_id",)])
    return frame.astype(object).where(frame.notna(), None)


def load_rows(
    con: duckdb.DuckDBPyConnection,
    episodes: Sequence[Row],
    assessments: Sequence[Row] = (),
    period: str = PERIOD,
) -> dict[str, str]:
    """Insert rows as one accepted submission per NGO and dataset; return ``{ngo/dataset: id}``.

    Each NGO with episodes gets an assessments submission too (possibly empty), as an NGO
    that submits both files would.
    """
    ids: dict[str, str] = {}
    ngos = sorted({r["ngo_id"] for r in episodes} | {r["ngo_id"] for r in assessments})
    now = datetime.now(UTC)
    for dataset, rows in (("episodes", episodes), ("assessments", assessments)):
        contract = load_contract(dataset)
        names = [n for n, _t in row_columns(contract)]
        for ngo in ngos:
            mine = [r for r in rows if r["ngo_id"] == ngo]
            sha = pseudo("submission", period, ngo, dataset, len(mine), now.isoformat())
            sid = f"{period}.{ngo}.{dataset}.{sha[:12]}"
            ids[f"{ngo}/{dataset}"] = sid
            con.execute(
                "INSERT INTO submissions (submission_id, ngo_id, period, dataset, contract, sha256, "
                "rows, submitted_at, submitted_on, received_at, status, decided_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'accepted', ?)",
                [
                    sid,
                    ngo,
                    period,
                    dataset,
                    contract.tag,
                    sha * 2,
                    len(mine),
                    now,
                    now.date(),
                    now,
                    now,
                ],
            )
            if not mine:
                continue
            frame = pd.DataFrame(mine)
            frame["submission_id"] = sid
            frame["period"] = period
            frame["source_row"] = np.arange(2, len(mine) + 2)
            for name in names:
                if name not in frame.columns:
                    frame[name] = None
            frame = frame[names]
            con.register("_load", frame)
            cols = ", ".join(f'"{n}"' for n in names)
            con.execute(f"INSERT INTO {dataset} ({cols}) SELECT {cols} FROM _load")
            con.unregister("_load")
    _register_in_vault(con, ngos)
    return ids


def _register_in_vault(con: duckdb.DuckDBPyConnection, ngos: Sequence[str]) -> None:
    """Put the NGOs in the vault's copy of the register (a vault in memory has no desk to copy
    it from; a hub's vault gets the desk's copy again when next opened)."""
    from pipelines.hub.vault import register

    known = {n.ngo_id: n for n in register.listing(con)}
    for ngo in ngos:
        known.setdefault(ngo, register.RegisteredNgo(ngo, f"Test {ngo}", (), (), True))
    register.replace(con, known.values(), "tests")


def memory_vault() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the vault's schema (no encryption: pure bounding and aggregation)."""
    con = duckdb.connect(":memory:")
    ensure_schema(con)
    return con


# --- a fixture within the plan's bounds ---------------------------------------------------------


def bounded_sector(
    seed: int,
    *,
    ngos: Sequence[str] = ("ngo-aroha", "ngo-kauri", "ngo-tui"),
    clients_per_ngo: int = 150,
    programmes: Sequence[str] = ("parenting", "housing_support"),
    change_domains: Mapping[str, tuple[int, int]] | None = None,
    satisfaction_domain: str = "satisfied_with_service",
    no_consent: int = 3,
    episodes_per_client: int = 3,
    max_sessions: int = 20,
) -> tuple[list[Row], list[Row]]:
    """A small sector in which no client exceeds the plan's bounds (so bounded truth = raw truth).

    Clients have 1 to ``episodes_per_client`` episodes with at most ``max_sessions``
    sessions each; each change domain is assessed once per client (on one of their
    episodes), usually with a later score; each client has one satisfaction score. A few
    clients per NGO withheld consent on one episode (so they count nowhere).
    """
    rng = np.random.default_rng(seed)
    drift = change_domains or {"mental_wellbeing": (-1, 3), "housing": (-3, 1)}
    episodes_cc = load_contract("episodes")
    regions = episodes_cc.column("region").accepted_values
    ages = episodes_cc.column("age_band").accepted_values
    genders = episodes_cc.column("gender").accepted_values
    ethnicities = episodes_cc.column("ethnicity").accepted_values
    exits = episodes_cc.column("exit_reason").accepted_values
    eps: list[Row] = []
    ass: list[Row] = []
    for ngo in ngos:
        for c in range(clients_per_ngo):
            client = pseudo(ngo, "client", seed, c)
            region = regions[int(rng.integers(0, 4))]
            age = ages[int(rng.integers(0, len(ages)))]
            gender = genders[int(rng.integers(0, len(genders)))]
            ethnicity = ethnicities[int(rng.integers(0, len(ethnicities)))]
            n_eps = int(rng.integers(1, episodes_per_client + 1))
            refused = c < no_consent
            mine = []
            for k in range(n_eps):
                start = START + timedelta(days=int(rng.integers(0, 60)))
                ended = bool(rng.random() < 0.5)
                mine.append(
                    episode(
                        ngo,
                        client,
                        pseudo(ngo, "episode", seed, c, k),
                        programme=programmes[int(rng.integers(0, len(programmes)))],
                        region=region,
                        age_band=age,
                        gender=gender,
                        ethnicity=ethnicity,
                        start=start,
                        end=start + timedelta(days=20) if ended else None,
                        exit_reason=exits[int(rng.integers(0, len(exits)))] if ended else None,
                        sessions=int(rng.integers(0, max_sessions + 1)),
                        consent=not (refused and k == 0),
                    )
                )
            eps += mine
            for domain, (low, high) in drift.items():
                on = mine[int(rng.integers(0, n_eps))]["episode_id"]
                pre = int(rng.integers(1, 6))
                step = int(rng.integers(low, high))
                post = int(np.clip(pre + step, 1, 5)) if rng.random() < 0.85 else None
                ass.append(assessment(ngo, client, on, domain, pre, post=post))
            on = mine[int(rng.integers(0, n_eps))]["episode_id"]
            score = int(rng.integers(2, 6))
            ass.append(assessment(ngo, client, on, satisfaction_domain, score))
    return eps, ass


def check_within_bounds(
    episodes: Sequence[Row], assessments: Sequence[Row], plan: ReleasePlan
) -> None:
    """Assert the fixture needs no bounding, so the pandas truth is the bounded truth."""
    e = pd.DataFrame(list(episodes))
    a = pd.DataFrame(list(assessments))
    assert e.groupby(["ngo_id", "client_id"]).size().max() <= plan.episodes_per_client
    assert e["sessions"].between(0, plan.sessions_per_episode).all()
    assert not a.duplicated(["ngo_id", "client_id", "domain"]).any()
    assert not e.duplicated(["ngo_id", "episode_id"]).any()


# --- the truth, with plain pandas ---------------------------------------------------------------


def _frames(
    episodes: Sequence[Row], assessments: Sequence[Row], plan: ReleasePlan
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(consenting episodes, change pairs with their episode, satisfaction scores with their episode)."""
    e = pd.DataFrame(list(episodes))
    refused = e.loc[e["consent_aggregate"].eq(False), ["ngo_id", "client_id"]].drop_duplicates()
    e = e.merge(refused, how="left", indicator=True, on=["ngo_id", "client_id"])
    e = e[e["_merge"] == "left_only"].drop(columns="_merge")
    a = pd.DataFrame(list(assessments))
    a = a.merge(
        e[["ngo_id", "client_id", "episode_id", "programme", "region"]],
        on=["ngo_id", "client_id", "episode_id"],
    )
    domains = set(plan.key_sets["domain"])
    pairs = a[a["domain"].isin(domains) & a["pre_score"].notna() & a["post_score"].notna()].copy()
    pairs["change"] = (pairs["post_score"].astype(int) - pairs["pre_score"].astype(int)).astype(int)
    sat = a[a["domain"] == plan.satisfaction_domain].copy()
    sat["score"] = sat["post_score"].where(sat["post_score"].notna(), sat["pre_score"])
    sat = sat[sat["score"].notna()]
    return e, pairs, sat


def truth(
    episodes: Sequence[Row],
    assessments: Sequence[Row],
    plan: ReleasePlan,
    statistic: str,
    by: Sequence[str],
    *,
    where: str | None = None,
    per_ngo: bool = False,
) -> dict[tuple[str, ...], float]:
    """The exact value of ``statistic`` in every non-empty cell of ``by`` (keys as text)."""
    e, pairs, sat = _frames(episodes, assessments, plan)
    keys = (["ngo_id"] if per_ngo else []) + list(by)
    e = e.assign(_client=e["ngo_id"] + "/" + e["client_id"])
    pairs = pairs.assign(_client=pairs["ngo_id"] + "/" + pairs["client_id"])
    pairs["change_text"] = pairs["change"].astype(str)
    if statistic == "distinct_clients":
        rows = e[e["end_date"].notna() & e["exit_reason"].notna()] if where == "exited" else e
        values = _grouped(rows, keys, lambda g: g["_client"].nunique())
    elif statistic == "sessions":
        values = _grouped(e, keys, lambda g: g["sessions"].sum())
    elif statistic == "satisfaction_respondents":
        values = _grouped(sat, keys, len)
    elif statistic == "satisfied_clients":
        values = _grouped(sat[sat["score"] >= plan.satisfied_at_or_above], keys, len)
    elif statistic == "paired_clients":
        values = _grouped(pairs, keys, lambda g: g["_client"].nunique())
    elif statistic == "improved_any_clients":
        values = _grouped(pairs[pairs["change"] > 0], keys, lambda g: g["_client"].nunique())
    elif statistic == "change_pairs":
        values = _grouped(pairs, keys, len)
    elif statistic == "change_total":
        values = _grouped(pairs, keys, lambda g: g["change"].sum())
    elif statistic == "improved_clients":
        values = _grouped(pairs[pairs["change"] > 0], keys, len)
    elif statistic == "change_distribution":
        renamed = pairs.drop(columns="change").rename(columns={"change_text": "change"})
        values = _grouped(renamed, keys, len)
    elif statistic == "worse_any_clients":
        values = _grouped(pairs[pairs["change"] < 0], keys, lambda g: g["_client"].nunique())
    elif statistic.startswith("group_"):
        groups = _client_groups(e, pairs)
        values = _grouped(
            {
                "group_pairs": groups,
                "group_change_total": groups,
                "group_improved": groups[groups["mean_change"] > 0],
                "group_worse": groups[groups["mean_change"] < 0],
            }[statistic],
            keys,
            (lambda g: g["tenths"].sum() / 10) if statistic == "group_change_total" else len,
        )
    else:
        raise ValueError(statistic)
    return values


def _client_groups(e: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per client and domain group: their mean change over the group's domains (and in
    tenths, rounded half away from zero as DuckDB does) and who they are (latest episode)."""
    category = {d.value: d.category for d in load_contract("assessments").column("domain").enum}
    p = pairs.assign(domain_group=pairs["domain"].map(category))
    groups = (
        p.groupby(["ngo_id", "client_id", "domain_group"])["change"]
        .mean()
        .reset_index(name="mean_change")
    )
    m = groups["mean_change"].to_numpy(dtype=float)
    groups["tenths"] = np.sign(m) * np.floor(np.abs(m) * 10 + 0.5)
    who = e.sort_values("start_date").groupby(["ngo_id", "client_id"]).tail(1)
    return groups.merge(
        who[["ngo_id", "client_id", "ethnicity", "age_band", "gender"]], on=["ngo_id", "client_id"]
    )


def _grouped(frame: pd.DataFrame, keys: list[str], value: Any) -> dict[tuple[str, ...], float]:
    if not keys:
        return {(): float(value(frame))} if len(frame) else {}
    return {
        tuple(str(k) for k in (key if isinstance(key, tuple) else (key,))): float(value(group))
        for key, group in frame.groupby(keys, sort=False)
    }


def cell_truth(
    cells: pd.DataFrame,
    episodes: Sequence[Row],
    assessments: Sequence[Row],
    plan: ReleasePlan,
) -> np.ndarray:
    """The true value of every published cell (NaN where a ratio's true denominator is zero).

    Base measures and rollups are recomputed from the rows for the cell's own breakdown
    (a rollup is the statistic over fewer dimensions); ratios divide two such truths.
    """
    derived = {d.id: d for d in plan.derived}
    out = np.full(len(cells), np.nan)
    cache: dict[str, dict[tuple[str, ...], float]] = {}

    def values_of(name: str) -> tuple[dict[tuple[str, ...], float], list[str]]:
        base = plan.base_of(name)
        dims = list(plan.dimensions_of(name))
        if name not in cache:
            cache[name] = truth(
                episodes,
                assessments,
                plan,
                base.statistic.name,
                dims,
                where=base.where,
                per_ngo=base.scope == "ngo",
            )
        return cache[name], (["ngo_id"] if base.scope == "ngo" else []) + dims

    for measure, index in cells.groupby("measure", sort=False).groups.items():
        rows = cells.loc[index]
        d = derived.get(str(measure))
        if d is not None and d.kind == "ratio":
            num, keys = values_of(d.inputs[0])
            den, _ = values_of(d.inputs[1])
            for i, key in zip(index, _row_keys(rows, keys), strict=True):
                denominator = den.get(key, 0.0)
                out[cells.index.get_loc(i)] = (
                    num.get(key, 0.0) / denominator if denominator else np.nan
                )
        else:
            values, keys = values_of(str(measure))
            for i, key in zip(index, _row_keys(rows, keys), strict=True):
                out[cells.index.get_loc(i)] = values.get(key, 0.0)
    return out


def _row_keys(rows: pd.DataFrame, keys: list[str]) -> Iterable[tuple[str, ...]]:
    if not keys:
        return itertools.repeat((), len(rows))
    return (tuple(str(v) for v in row) for row in rows[keys].itertuples(index=False))


def all_cells_of(plan: ReleasePlan, by: Sequence[str]) -> set[tuple[str, ...]]:
    """Every key of a breakdown: the cross product of its public key sets."""
    return set(itertools.product(*(plan.key_sets[d] for d in by)))


def audit_actions(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [a for (a,) in con.execute("SELECT action FROM audit_log ORDER BY seq").fetchall()]


def ledger(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], float]:
    """Total rho spent per (period, NGO)."""
    return {
        (p, n): float(r)
        for p, n, r in con.execute(
            "SELECT period, ngo_id, sum(rho) FROM spends GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
    }


def snapshot(con: duckdb.DuckDBPyConnection) -> Mapping[str, int]:
    """Row counts of the steward zone's release tables: equal before and after means nothing was written."""
    return {
        t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
        for t in ("releases", "release_parts", "release_cells", "spends", "release_inputs")
    }


# --- a hub home ---------------------------------------------------------------------------------


@contextlib.contextmanager
def isolated(root: Path) -> Iterator[None]:
    """Run hub code as a test would, for fixtures wider than one test: working directory
    ``root`` (DuckDB spills temporary files under the working directory) and ``DAGSTER_HOME``
    restored afterwards (the orchestration sets it)."""
    import pytest

    root.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("DAGSTER_HOME", str(root / "no-dagster-home"))
        mp.delenv("OUTCOMES_HOME", raising=False)  # the orchestration sets it too
        yield


def register_ngos(home: Any, ngo_ids: Iterable[str]) -> None:
    """Register every NGO of ``ngo_ids`` the hub's register does not know yet (releases refuse
    contributors it does not know); their tokens are not needed by these tests."""
    from pipelines.hub.desk import register
    from pipelines.hub.desk.store import opened

    home.create()
    with opened(home) as desk:
        for ngo_id in sorted(set(ngo_ids)):
            if register.get(desk, ngo_id) is None:
                register.register(desk, ngo_id=ngo_id, name=f"NGO {ngo_id}", actor="tests")


def seed_home(
    home: Any, episodes: Sequence[Row], assessments: Sequence[Row], period: str = PERIOD
) -> None:
    """Write rows into the encrypted vault of ``home`` as accepted submissions of registered
    NGOs."""
    from pipelines.hub.vault import open_vault

    register_ngos(home, (row["ngo_id"] for row in [*episodes, *assessments]))
    with open_vault(home).connect() as con:
        load_rows(con, episodes, assessments, period)


def small_sector(
    seed: int = 11, ngos: Sequence[str] = ("ngo-aroha", "ngo-kauri")
) -> tuple[list[Row], list[Row]]:
    """Two small NGOs (40 clients each), Māori clients included."""
    return bounded_sector(seed, ngos=ngos, clients_per_ngo=40)


# --- an attacker at the audit log ---------------------------------------------------------------


def rechain_audit_log(con: duckdb.DuckDBPyConnection, seq: int, **change: Any) -> None:
    """Edit entry ``seq``'s detail and recompute every later hash with the hub's own hashing
    code, as someone who runs the hub could: the chain stays valid from end to end."""
    from pipelines.hub import audit

    prev = audit.GENESIS if seq == 1 else audit.hash_at(con, seq - 1)
    for entry in audit.entries(con, after=seq - 1):
        detail = {**entry["detail"], **change} if entry["seq"] == seq else entry["detail"]
        at = entry["at"].astimezone(UTC).isoformat(timespec="microseconds")
        event = audit.Event(entry["actor"], entry["action"], entry["subject"], detail)
        digest = audit._digest(str(prev), entry["seq"], at, event)
        con.execute(
            "UPDATE audit_log SET detail = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            [json.dumps(detail), prev, digest, entry["seq"]],
        )
        prev = digest
    assert audit.verify(con) is None, "the rewritten chain should still be a valid chain"
