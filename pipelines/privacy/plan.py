"""The release plan (``contracts/release_plan.v1.yaml``) as a validated, frozen object.

A plan that names an unknown column, a breakdown with no public key set, a
statistic the hub does not know or an impossible weight is refused here,
before anything touches data, with the measure and the problem named.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import pandas as pd
import yaml

from pipelines.privacy.statistics import STATISTICS, Limits, Sensitivity, Statistic
from pipelines.standard.contract import CONTRACTS_DIR, Contract, load_contracts

PLAN_FILE = CONTRACTS_DIR / "release_plan.v1.yaml"
QUESTIONS = {
    "how_much": "How much did we do?",
    "how_well": "How well did we do it?",
    "better_off": "Is anyone better off?",
}
SCOPES = ("pooled", "ngo")
CHANGE = "change"
DOMAIN_GROUP = "domain_group"
"""A breakdown by the plan's change categories (circumstances, goals): a client's domains in a
category are averaged, so a client moves one cell per category."""

Scale = Literal["value", "percentage_points", "score_points"]
"""What a cell's 95% half-width is judged against. ``value``: as a share of the cell's own value
(counts, sums, sessions per client); ``percentage_points``: in points of a share;
``score_points``: in points of the assessment score (a mean change)."""
SCALES: tuple[Scale, ...] = get_args(Scale)


def _points(amount: float) -> str:
    """``1 point``, ``25 points``: the word after a number of points."""
    return "point" if amount == 1 else "points"


class PlanError(ValueError):
    """The release plan is not valid; the message names the measure and the problem."""


@dataclass(frozen=True, order=True)
class Component:
    """How a measure's cells are split for release, and paid for.

    ``all``: every cell at once (the measure has no Māori-data dimension).
    ``open``: the cells of no Māori-data value. ``governed``: the cells of one
    Māori-data value (``dimension`` = ``value``), released and paid for only with
    the governance group's approval. Stored as text: ``all``, ``open`` or
    ``governed:<dimension>=<value>``.
    """

    kind: Literal["all", "open", "governed"]
    dimension: str = ""
    value: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("all", "open", "governed"):
            raise ValueError(f"a component is all, open or governed, got {self.kind!r}")
        if (self.kind == "governed") != bool(self.dimension and self.value):
            raise ValueError("a governed component names a dimension and a value; others none")

    @classmethod
    def governed_by(cls, dimension: str, value: str) -> Component:
        return cls("governed", dimension, value)

    @classmethod
    def parse(cls, text: str) -> Component:
        if text == "all":
            return cls("all")
        if text == "open":
            return cls("open")
        dimension, sep, value = text.removeprefix("governed:").partition("=")
        if not text.startswith("governed:") or not sep:
            raise ValueError(f"not a release component: {text!r}")
        return cls("governed", dimension, value)

    @property
    def governed(self) -> bool:
        return self.kind == "governed"

    @property
    def approval(self) -> tuple[str, str]:
        """The (dimension, value) whose approval a governed component waits for."""
        return (self.dimension, self.value)

    def __str__(self) -> str:
        return f"governed:{self.dimension}={self.value}" if self.governed else self.kind


ALL = Component("all")
OPEN = Component("open")


@dataclass(frozen=True)
class Reliability:
    """When a cell is flagged ``low`` or ``withheld``: its 95% half-width on its scale (a share of
    the value, percentage points or score points) above ``low_above`` or ``withhold_above``."""

    low_above: float
    withhold_above: float

    def __post_init__(self) -> None:
        if not (0 < self.low_above <= self.withhold_above):
            raise PlanError(
                f"reliability thresholds must satisfy 0 < low_above <= withhold_above, "
                f"got {self.low_above} and {self.withhold_above}"
            )

    def flag(self, relative_halfwidth: float) -> str:
        if not math.isfinite(relative_halfwidth) or relative_halfwidth > self.withhold_above:
            return "withheld"
        return "low" if relative_halfwidth > self.low_above else "ok"


@dataclass(frozen=True)
class Measure:
    """A base measure: noisy cells that spend budget."""

    id: str
    question: str
    title: str
    statistic: Statistic
    scope: str
    by: tuple[str, ...]
    weight: float
    where: str | None = None


@dataclass(frozen=True)
class Derived:
    """A measure computed from released cells only: a ratio of two, or a sum over one dimension."""

    id: str
    question: str
    title: str
    kind: str  # "ratio" or "rollup"
    inputs: tuple[str, ...]
    over: str | None = None
    target: float | None = None
    scale: Scale = "value"
    """The scale a ratio's precision is judged on (a rollup is a count or sum: ``value``)."""


@dataclass(frozen=True)
class ReleasePlan:
    """What a release of one period contains and how each NGO's budget is split."""

    version: str
    digest: str
    delta: float
    default_rho: float
    max_rho: float
    min_rho: float
    """The smallest budget a release can be calibrated on (see the plan file for why)."""
    episodes_per_client: int
    sessions_per_episode: int
    change_categories: tuple[str, ...]
    satisfaction_domain: str
    satisfied_at_or_above: int
    reliability: Mapping[Scale, Reliability]
    """For each scale, when a cell judged on it is flagged ``low`` or ``withheld``."""
    window_days: int
    annual_rho: float
    """Each NGO's default cap on the rho any four consecutive quarters spend (decision 015)."""
    published_dimensions: tuple[str, ...]
    measures: tuple[Measure, ...]
    derived: tuple[Derived, ...]
    key_sets: Mapping[str, tuple[str, ...]]
    governed: Mapping[str, tuple[str, ...]]
    score_range: tuple[int, int]
    headlines: Mapping[str, tuple[str, ...]]
    """Per question, the pooled whole-sector measures shown first, in order."""

    def headline_rank(self, measure_id: str) -> int | None:
        """The measure's position among its question's headlines (None if it is not one)."""
        for ids in self.headlines.values():
            if measure_id in ids:
                return ids.index(measure_id)
        return None

    @property
    def limits(self) -> Limits:
        lo, hi = self.score_range
        return Limits(
            self.episodes_per_client,
            self.sessions_per_episode,
            len(self.key_sets["domain"]),
            hi - lo,
            len(self.key_sets[DOMAIN_GROUP]),
        )

    def measure(self, measure_id: str) -> Measure:
        for m in self.measures:
            if m.id == measure_id:
                return m
        raise KeyError(f"the plan has no base measure {measure_id!r}")

    def cells(self, measure: Measure) -> int:
        return math.prod(len(self.key_sets[d]) for d in measure.by)

    def sensitivity(self, measure: Measure) -> Sensitivity:
        return measure.statistic.sensitivity(measure.by, self.cells(measure), self.limits)

    def governed_dimensions(self, measure: Measure) -> tuple[str, ...]:
        return tuple(d for d in measure.by if d in self.governed)

    def components(self, measure: Measure) -> tuple[Component, ...]:
        """How a measure's cells are split for release: :data:`ALL`, or :data:`OPEN` plus one
        governed component per Māori-data value, each released (and paid for) only with the
        governance group's approval."""
        governed = [
            Component.governed_by(d, v)
            for d in self.governed_dimensions(measure)
            for v in self.governed[d]
        ]
        return (OPEN, *governed) if governed else (ALL,)

    @property
    def total_weight(self) -> float:
        """Weights of every component (each governed component counts its measure once more)."""
        return sum(m.weight * len(self.components(m)) for m in self.measures)

    def share(self, measure: Measure) -> float:
        """The share of an NGO's period budget each component of ``measure`` spends."""
        return measure.weight / self.total_weight

    def base_of(self, name: str) -> Measure:
        """The base measure behind a base measure's or a (chain of) rollup's id."""
        rollups = {d.id: d for d in self.derived if d.kind == "rollup"}
        while name in rollups:
            name = rollups[name].inputs[0]
        return self.measure(name)

    def dimensions_of(self, name: str) -> tuple[str, ...]:
        """The breakdown of a base, rollup or ratio measure."""
        derived = {d.id: d for d in self.derived}
        if name in derived:
            d = derived[name]
            inner = self.dimensions_of(d.inputs[0])
            return tuple(x for x in inner if x != d.over) if d.kind == "rollup" else inner
        return self.measure(name).by

    @property
    def counts_reliability(self) -> Reliability:
        """The rule for counts and sums (scale ``value``)."""
        return self.reliability["value"]

    def _derived(self, measure_id: str) -> Derived | None:
        return next((d for d in self.derived if d.id == measure_id), None)

    def scale_of(self, measure_id: str) -> Scale:
        """The scale a measure's cells are judged on: a ratio's declared scale, else ``value``."""
        derived = self._derived(measure_id)
        if derived is None:
            self.measure(measure_id)  # an unknown id is refused with its name
            return "value"
        return derived.scale

    def reliability_of(self, measure_id: str) -> Reliability:
        """The thresholds a measure's cells are flagged by."""
        return self.reliability[self.scale_of(measure_id)]

    def judge(self, scale: Scale, value: float | None, halfwidth: float) -> str:
        """The flag of a cell of ``value`` with this 95% half-width, on ``scale``: the one rule
        the release and the planner both use."""
        rule = self.reliability[scale]
        if value is None or not math.isfinite(halfwidth):
            return "withheld"
        if scale == "percentage_points":
            return rule.flag(halfwidth * 100.0)
        if scale == "score_points":
            return rule.flag(halfwidth)
        return rule.flag(halfwidth / max(abs(value), 1.0))

    def judge_ratio(self, scale: Scale, value: float | None, halfwidth: float) -> str:
        """:meth:`judge` for a ratio: on ``value`` scale a ratio below one is not floored at one."""
        if scale == "value" and value is not None and math.isfinite(halfwidth):
            if value <= 0:
                return "withheld"
            return self.reliability[scale].flag(halfwidth / value)
        return self.judge(scale, value, halfwidth)

    def rule_text(self, scale: Scale) -> str:
        """The reliability rule of a scale in one plain sentence, for the methodology page."""
        r = self.reliability[scale]
        if scale == "value":
            return (
                f"A count, a total or a rate (such as sessions per client) is marked low when its "
                f"95% interval reaches more than {r.low_above:.0%} of its value either side, and "
                f"is withheld when it reaches more than {r.withhold_above:.0%}."
            )
        if scale == "percentage_points":
            return (
                f"A share is marked low when its 95% interval reaches more than "
                f"{r.low_above:g} percentage points either side, and is withheld beyond "
                f"{r.withhold_above:g} {_points(r.withhold_above)} or when a number it is built from is withheld."
            )
        lo, hi = self.score_range
        return (
            f"A mean change in score (on the {lo}-{hi} scale) is marked low when its 95% "
            f"interval reaches more than {r.low_above:g} score points either side, and is "
            f"withheld beyond {r.withhold_above:g} {_points(r.withhold_above)} or when the number of clients it is "
            "an average over is withheld."
        )

    def ratio_range(self, derived: Derived) -> tuple[float, float]:
        """The values a ratio can take: the bounds its interval is clipped to."""
        if derived.kind != "ratio":
            return (0.0, math.inf)
        stat = self.base_of(derived.inputs[0]).statistic.name
        if stat in ("change_total", "group_change_total"):
            lo, hi = self.score_range
            return (float(lo - hi), float(hi - lo))
        if stat == "sessions":
            return (0.0, float(self.episodes_per_client * self.sessions_per_episode))
        return (0.0, 1.0)


def _fail(where: str, problem: str) -> PlanError:
    return PlanError(f"release plan, {where}: {problem}")


def _key_sets(
    contracts: Mapping[str, Contract], change_categories: tuple[str, ...]
) -> dict[str, tuple[str, ...]]:
    keys: dict[str, tuple[str, ...]] = {}
    for contract in contracts.values():
        for dim in contract.group_by_dimensions:
            keys[dim] = contract.key_set(dim)
    domain = contracts["assessments"].column("domain")
    keys["domain"] = tuple(e.value for e in domain.enum if e.category in change_categories)
    lo, hi = contracts["assessments"].value_bounds["pre_score"]
    span = int(hi - lo)
    keys[CHANGE] = tuple(str(c) for c in range(-span, span + 1))
    keys[DOMAIN_GROUP] = tuple(change_categories)
    return keys


def _all_columns(contracts: Mapping[str, Contract]) -> set[str]:
    return {c for contract in contracts.values() for c in contract.column_names}


def _check_dims(
    where: str, by: tuple[str, ...], stat: Statistic, keys: Mapping[str, Any], columns: set[str]
) -> None:
    for dim in by:
        if dim not in keys:
            if dim in columns:
                raise _fail(
                    where,
                    f"{dim!r} has no enum in the contracts, so it has no public key set; "
                    f"group only by {', '.join(sorted(keys))}",
                )
            raise _fail(where, f"{dim!r} is not a column of any contract")
        if dim not in stat.allowed:
            raise _fail(
                where,
                f"statistic {stat.name} cannot be broken down by {dim!r}; "
                f"it allows {', '.join(stat.allowed) or 'no breakdown'}",
            )
    missing = [d for d in stat.required if d not in by]
    if missing:
        raise _fail(where, f"statistic {stat.name} must be broken down by {', '.join(missing)}")
    if len(set(by)) != len(by):
        raise _fail(where, "a dimension is listed twice in by")


def _measure(raw: Mapping[str, Any], keys: Mapping[str, Any], columns: set[str]) -> Measure:
    where = f"measure {raw.get('id', '?')!r}"
    stat_name = raw.get("statistic")
    if stat_name not in STATISTICS:
        raise _fail(where, f"unknown statistic {stat_name!r}; known: {', '.join(STATISTICS)}")
    stat = STATISTICS[stat_name]
    if raw.get("question") not in QUESTIONS:
        raise _fail(where, f"question must be one of {', '.join(QUESTIONS)}")
    if raw.get("scope") not in SCOPES:
        raise _fail(where, f"scope must be pooled or ngo, got {raw.get('scope')!r}")
    weight = raw.get("weight")
    if (
        not isinstance(weight, int | float)
        or isinstance(weight, bool)
        or not math.isfinite(weight)
        or weight <= 0
    ):
        raise _fail(where, f"weight must be a positive number, got {weight!r}")
    where_filter = raw.get("where")
    if where_filter is not None and where_filter not in stat.wheres:
        raise _fail(where, f"statistic {stat.name} has no filter {where_filter!r}")
    by = tuple(raw.get("by") or ())
    _check_dims(where, by, stat, keys, columns)
    return Measure(
        str(raw["id"]),
        raw["question"],
        str(raw.get("title", raw["id"])),
        stat,
        raw["scope"],
        by,
        float(weight),
        where_filter,
    )


def _base_measure(
    name: str, measures: Mapping[str, Measure], earlier: Mapping[str, Derived]
) -> Measure:
    while name not in measures:
        name = earlier[name].inputs[0]
    return measures[name]


_LEGACY_SCALES: dict[str, Scale] = {
    "sessions": "value",
    "change_total": "score_points",
    "group_change_total": "score_points",
}
"""A ratio's scale in a plan written before ratios declared one (a stored release's plan is
published again with today's flags): by its numerator's statistic, shares otherwise."""


def _ratio_scale(raw: Mapping[str, Any], where: str, numerator: Measure, legacy: bool) -> Scale:
    scale = raw.get("scale")
    if scale is None and legacy:
        return _LEGACY_SCALES.get(numerator.statistic.name, "percentage_points")
    if scale not in SCALES:
        raise _fail(
            where,
            f"a ratio declares the scale its precision is judged on: scale: one of "
            f"{', '.join(SCALES)}, got {scale!r}",
        )
    return scale  # type: ignore[no-any-return]


def _derived(
    raw: Mapping[str, Any],
    measures: Mapping[str, Measure],
    earlier: Mapping[str, Derived],
    legacy: bool = False,
) -> Derived:
    where = f"derived measure {raw.get('id', '?')!r}"
    if raw.get("question") not in QUESTIONS:
        raise _fail(where, f"question must be one of {', '.join(QUESTIONS)}")

    def dims_of(name: str) -> tuple[tuple[str, ...], str]:
        if name in measures:
            return measures[name].by, measures[name].scope
        if name in earlier and earlier[name].kind == "rollup":
            dims, scope = dims_of(earlier[name].inputs[0])
            return tuple(d for d in dims if d != earlier[name].over), scope
        raise _fail(where, f"{name!r} is not a base measure or an earlier rollup")

    if "ratio" in raw:
        inputs = tuple(raw["ratio"])
        if len(inputs) != 2:
            raise _fail(where, "a ratio names exactly two measures: [numerator, denominator]")
        (nb, ns), (db, ds) = dims_of(inputs[0]), dims_of(inputs[1])
        if nb != db or ns != ds:
            raise _fail(
                where, f"{inputs[0]} and {inputs[1]} must have the same breakdown and scope"
            )
        target = raw.get("target")
        numerator = _base_measure(inputs[0], measures, earlier)
        return Derived(
            str(raw["id"]),
            raw["question"],
            str(raw.get("title", raw["id"])),
            "ratio",
            inputs,
            target=float(target) if target is not None else None,
            scale=_ratio_scale(raw, where, numerator, legacy),
        )
    if "rollup" in raw:
        source = str(raw["rollup"])
        dims, _scope = dims_of(source)
        base = measures[source] if source in measures else _base_measure(source, measures, earlier)
        over = raw.get("over")
        if over not in dims:
            raise _fail(where, f"over must be one of {source}'s dimensions {dims}")
        if over not in base.statistic.rollup_over:
            raise _fail(
                where,
                f"{source} ({base.statistic.name}) cannot be added up over {over!r}: "
                "a client can be in several of its cells and would be counted more than once",
            )
        return Derived(
            str(raw["id"]),
            raw["question"],
            str(raw.get("title", raw["id"])),
            "rollup",
            (source,),
            over=over,
        )
    raise _fail(
        where, "needs either ratio: [numerator, denominator] or rollup: <measure> with over:"
    )


def _positive(raw: Mapping[str, Any], key: str, where: str, kind: type = float) -> Any:
    value = raw.get(key)
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise _fail(where, f"{key} must be a positive number, got {value!r}")
    if kind is int and value != int(value):
        raise _fail(where, f"{key} must be a whole number, got {value!r}")
    return kind(value)


def _annual_rho(privacy: Mapping[str, Any], default_rho: float, max_rho: float) -> float:
    """The rolling-year cap: room for at least one quarter at the default budget, and no more than
    four quarters at the largest budget (beyond that it would cap nothing)."""
    annual = float(_positive(privacy, "annual_rho", "privacy"))
    if annual < default_rho:
        raise _fail(
            "privacy",
            f"annual_rho {annual:g} is below default_rho {default_rho:g}: not even one quarter at "
            "the default budget would fit in a year",
        )
    if annual > 4 * max_rho:
        raise _fail(
            "privacy",
            f"annual_rho {annual:g} is above four quarters at max_rho ({4 * max_rho:g}), so it "
            "would cap nothing",
        )
    return annual


DEFAULT_RELIABILITY: dict[Scale, tuple[float, float]] = {
    "value": (0.25, 1.0),
    "percentage_points": (10.0, 25.0),
    "score_points": (0.25, 1.0),
}
"""Thresholds for a scale a plan does not set (a plan written before scales were declared)."""


def _reliability(raw: Mapping[str, Any]) -> dict[Scale, Reliability]:
    """The plan's ``reliability:`` keyed by scale; a plan written before scales (``counts`` and
    ``ratios``) keeps its counts rule for ``value`` and takes the defaults for the others."""
    unknown = set(raw) - set(SCALES) - {"counts", "ratios"}
    if unknown:
        raise _fail("reliability", f"{sorted(unknown)} are not scales ({', '.join(SCALES)})")
    rules: dict[Scale, Reliability] = {}
    for scale in SCALES:
        given = raw.get(scale) or (raw.get("counts") if scale == "value" else None)
        if given is None:
            if not {"counts", "ratios"} & set(raw):
                raise _fail("reliability", f"needs a rule for {scale}: low_above, withhold_above")
            low, withhold = DEFAULT_RELIABILITY[scale]
            given = {"low_above": low, "withhold_above": withhold}
        rules[scale] = Reliability(**given)
    return rules


PRESENTATION_KEYS = ("headlines",)
"""Plan keys that change what is shown, not what is computed: left out of the digest."""


def _check_headlines(plan: ReleasePlan) -> ReleasePlan:
    """Every headline is a pooled measure of the whole sector (no breakdown) that the plan has."""
    known = {m.id for m in plan.measures} | {d.id for d in plan.derived}
    for question, ids in plan.headlines.items():
        if question not in QUESTIONS:
            raise _fail("headlines", f"{question!r} is not a question ({', '.join(QUESTIONS)})")
        for measure_id in ids:
            if measure_id not in known:
                raise _fail("headlines", f"{measure_id!r} is not a measure of the plan")
            inner = measure_id
            derived = {d.id: d for d in plan.derived}
            if inner in derived and derived[inner].kind == "ratio":
                inner = derived[inner].inputs[0]
            if plan.base_of(inner).scope != "pooled" or plan.dimensions_of(measure_id):
                raise _fail(
                    "headlines", f"{measure_id!r} must be a pooled measure of the whole sector"
                )
    return plan


def _headline_lists(raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict) or not all(
        isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in raw.values()
    ):
        raise _fail("headlines", "must map each question to a list of measure ids")
    return {str(q): tuple(ids) for q, ids in raw.items()}


def parse_plan(
    doc: Mapping[str, Any], contracts: Mapping[str, Contract] | None = None
) -> ReleasePlan:
    contracts = contracts or load_contracts()
    privacy = doc.get("privacy") or {}
    bounds = doc.get("bounds") or {}
    outcomes = doc.get("outcomes") or {}
    reliability = doc.get("reliability") or {}
    categories = tuple(outcomes.get("change_categories") or ())
    domain = contracts["assessments"].column("domain")
    known_categories = {e.category for e in domain.enum}
    if not categories or set(categories) - known_categories:
        raise _fail(
            "outcomes",
            f"change_categories must be some of {sorted(c for c in known_categories if c)}",
        )
    if outcomes.get("satisfaction_domain") not in domain.accepted_values:
        raise _fail(
            "outcomes",
            f"satisfaction_domain {outcomes.get('satisfaction_domain')!r} is not a domain",
        )
    lo, hi = contracts["assessments"].value_bounds["pre_score"]
    threshold = outcomes.get("satisfied_at_or_above")
    if not isinstance(threshold, int) or not lo <= threshold <= hi:
        raise _fail("outcomes", f"satisfied_at_or_above must be a score from {lo:g} to {hi:g}")
    keys = _key_sets(contracts, categories)
    columns = _all_columns(contracts)
    measures = tuple(_measure(m, keys, columns) for m in doc.get("measures") or [])
    if not measures:
        raise _fail("measures", "the plan has no measures")
    by_id = {m.id: m for m in measures}
    if len(by_id) != len(measures):
        raise _fail("measures", "two measures share an id")
    derived: dict[str, Derived] = {}
    legacy = bool({"counts", "ratios"} & set(reliability))
    for raw in doc.get("derived") or []:
        d = _derived(raw, by_id, derived, legacy)
        if d.id in derived or d.id in by_id:
            raise _fail(f"derived measure {d.id!r}", "the id is already used")
        derived[d.id] = d
    published = tuple(doc.get("published_dimensions") or ())
    for m in measures:
        missing = set(m.by) - set(published)
        if missing:
            raise _fail(
                f"measure {m.id!r}", f"{sorted(missing)} must be listed in published_dimensions"
            )
    governed = {g.dimension: g.values for c in contracts.values() for g in c.governed_dimensions}
    default_rho = _positive(privacy, "default_rho", "privacy")
    max_rho = _positive(privacy, "max_rho", "privacy")
    min_rho = _positive(privacy, "min_rho", "privacy")
    if not min_rho <= default_rho <= max_rho:
        raise _fail(
            "privacy",
            f"default_rho {default_rho} must be between min_rho {min_rho} and max_rho {max_rho}",
        )
    delta = _positive(privacy, "delta", "privacy")
    if delta >= 1:
        raise _fail("privacy", f"delta must be below 1, got {delta}")
    computed = {k: v for k, v in doc.items() if k not in PRESENTATION_KEYS}
    canonical = (
        json.dumps(computed, sort_keys=True, default=str)
        + "|"
        + "|".join(f"{c.tag}:{c.version}" for c in contracts.values())
    )
    plan = ReleasePlan(
        version=str(doc.get("version", "")),
        digest=hashlib.sha256(canonical.encode()).hexdigest()[:16],
        delta=delta,
        default_rho=default_rho,
        max_rho=max_rho,
        min_rho=min_rho,
        episodes_per_client=_positive(bounds, "episodes_per_client", "bounds", int),
        sessions_per_episode=_positive(bounds, "sessions_per_episode", "bounds", int),
        change_categories=categories,
        satisfaction_domain=str(outcomes["satisfaction_domain"]),
        satisfied_at_or_above=threshold,
        reliability=_reliability(reliability),
        window_days=_positive(doc, "submission_window_days", "submission_window_days", int),
        annual_rho=_annual_rho(privacy, default_rho, max_rho),
        published_dimensions=published,
        measures=measures,
        derived=tuple(derived.values()),
        key_sets=keys,
        governed=governed,
        score_range=(int(lo), int(hi)),
        headlines=_headline_lists(doc.get("headlines") or {}),
    )
    return _check_headlines(plan)


def key_frame(plan: ReleasePlan, measure: Measure, ngos: list[str] | None = None) -> pd.DataFrame:
    """Every cell of a measure, in a fixed order: the cross product of its public key sets
    (and of the NGOs, for a per-NGO measure)."""
    dims = list(measure.by)
    sets = [plan.key_sets[d] for d in dims]
    if ngos is not None:
        dims, sets = ["ngo_id", *dims], [tuple(ngos), *sets]
    if not dims:
        return pd.DataFrame(index=[0])
    return pd.DataFrame(list(itertools.product(*sets)), columns=dims, dtype="str")


def load_plan(path: Path = PLAN_FILE) -> ReleasePlan:
    with path.open(encoding="utf-8") as fh:
        return parse_plan(yaml.safe_load(fh))


@functools.cache
def default_plan() -> ReleasePlan:
    return load_plan()
