"""The shape of the sample sector: how common each contract value is, and how big NGOs are.

The contracts say which values exist; they do not say that most parenting
clients are 25 to 39, that a third of the country lives in Auckland, or that one
NGO in 200 serves thousands. The generator needs that to make files shaped like
the real sector, and a reviewer needs it in one place, as tables to read and
tune without touching the code that draws rows. ``Standard`` lays the tables
over the contracts' value lists, in contract order.

Every accepted value comes from the contracts. The weights below are keyed by
value and only shape the mix; a value the contract gains later gets a small
default weight instead of breaking the generator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.standard.contract import Contract, load_contract


def _grid(text: str) -> dict[str, dict[str, float]]:
    """A weights table written as a grid: a header of values, then one row per key."""
    header, *rows = (line.split() for line in text.strip().splitlines())
    return {row[0]: dict(zip(header, map(float, row[1:]), strict=True)) for row in rows}


# --- NGO sizes --------------------------------------------------------------------------------

LARGE_EVERY = 200  # one NGO in 200 is large (0.5%); the first falls within the first 10
_SMALL_MEDIAN, _SMALL_SIGMA, _SMALL_RANGE = 60.0, 0.7, (20, 300)  # mean ~77 clients a quarter
_LARGE_RANGE = (5_000, 15_000)


_DRIFT_SIGMA = 0.08  # quarter to quarter, an NGO's caseload moves by about 8% (lognormal)


def draw_clients(rng: np.random.Generator, large: bool) -> int:
    """How many clients one NGO serves in a quarter."""
    if large:
        return int(rng.integers(_LARGE_RANGE[0], _LARGE_RANGE[1] + 1))
    size = rng.lognormal(np.log(_SMALL_MEDIAN), _SMALL_SIGMA)
    return int(np.clip(round(size), *_SMALL_RANGE))


def drift_clients(rng: np.random.Generator, usual: int, large: bool) -> int:
    """How many clients an NGO that usually serves ``usual`` serves in a later quarter."""
    lo, hi = _LARGE_RANGE if large else _SMALL_RANGE
    return int(np.clip(round(usual * rng.lognormal(0.0, _DRIFT_SIGMA)), lo, hi))


# --- weights keyed by contract value ----------------------------------------------------------

# Usually resident population (thousands, 2023 Census): where clients live.
_REGION_POPULATION = {
    "Northland": 203, "Auckland": 1656, "Waikato": 499, "Bay of Plenty": 345, "Gisborne": 52,
    "Hawke's Bay": 180, "Taranaki": 127, "Manawatū-Whanganui": 255, "Wellington": 541,
    "Tasman": 58, "Nelson": 55, "Marlborough": 51, "West Coast": 32, "Canterbury": 655,
    "Otago": 246, "Southland": 100,
}  # fmt: skip
_NEIGHBOURS = {
    "Northland": ("Auckland",),
    "Auckland": ("Northland", "Waikato"),
    "Waikato": ("Auckland", "Bay of Plenty", "Taranaki", "Manawatū-Whanganui"),
    "Bay of Plenty": ("Waikato", "Gisborne", "Hawke's Bay"),
    "Gisborne": ("Bay of Plenty", "Hawke's Bay"),
    "Hawke's Bay": ("Gisborne", "Bay of Plenty", "Manawatū-Whanganui"),
    "Taranaki": ("Waikato", "Manawatū-Whanganui"),
    "Manawatū-Whanganui": ("Taranaki", "Hawke's Bay", "Wellington", "Waikato"),
    "Wellington": ("Manawatū-Whanganui",),
    "Tasman": ("Nelson", "West Coast"),
    "Nelson": ("Tasman", "Marlborough"),
    "Marlborough": ("Nelson", "Canterbury"),
    "West Coast": ("Tasman", "Canterbury"),
    "Canterbury": ("West Coast", "Marlborough", "Otago"),
    "Otago": ("Canterbury", "Southland"),
    "Southland": ("Otago",),
}

_PROGRAMME_SHARE = {
    "family_violence": 12, "parenting": 10, "youth_development": 10, "financial_capability": 8,
    "housing_support": 9, "mental_wellbeing": 12, "addiction_support": 7, "disability_support": 6,
}  # fmt: skip
_AGE = _grid("""
                        0-4  5-11  12-17  18-24  25-39  40-64  65+  unknown
    family_violence       4     6      6     14     38     27    3        2
    parenting             0     0      2     16     55     24    1        2
    youth_development     0     8     52     36      2      0    0        2
    financial_capability  0     0      1     12     36     37   12        2
    housing_support       0     0      2     14     33     37   12        2
    mental_wellbeing      0     2     10     20     31     29    6        2
    addiction_support     0     0      4     18     40     33    3        2
    disability_support    6    14     12     12     18     24   12        2
    *                     2     4     10     16     33     28    5        2
""")
_GENDER = _grid("""
                       female  male  another_gender  unknown
    family_violence        72    25               1        2
    parenting              74    23               1        2
    youth_development      47    49               2        2
    addiction_support      38    59               1        2
    *                      56    41               1        2
""")
_ETHNICITY = {
    "maori": 30, "european": 40, "pacific": 12, "asian": 8, "melaa": 1, "other": 2, "not_stated": 7,
}  # fmt: skip
_REFERRAL = {
    "self": 25, "family_whanau": 12, "health": 16, "education": 7, "police_justice": 10,
    "government_agency": 14, "community_org": 12, "other": 4,
}  # fmt: skip
_REFERRAL_BOOST = {
    "family_violence": {"police_justice": 3.0},
    "youth_development": {"education": 3.0},
    "mental_wellbeing": {"health": 2.5},
    "addiction_support": {"health": 2.0, "police_justice": 2.0},
    "disability_support": {"health": 2.0, "government_agency": 2.0},
    "housing_support": {"government_agency": 2.5},
}
_EXIT_REASON = {
    "goals_met": 35, "partly_met": 25, "disengaged": 18, "referred_on": 10, "moved_away": 5,
    "other": 7,
}  # fmt: skip
# How much a way of leaving moves the mean change of score (post - pre).
_EXIT_CHANGE = {"goals_met": 0.35, "partly_met": 0.05, "disengaged": -0.45, "moved_away": -0.2}
# Relevance of an outcome domain to a programme; a domain not listed scores 1.
_DOMAIN_RELEVANCE = {
    "family_violence": {
        "family_safety": 8, "family_functioning": 4, "mental_wellbeing": 3, "crisis_impact": 3,
    },
    "parenting": {"family_functioning": 8, "skills": 3, "knowledge_access": 3, "family_safety": 2},
    "youth_development": {
        "education_skills": 6, "community_participation": 4, "skills": 4, "behaviours": 3,
    },
    "financial_capability": {
        "financial_resilience": 8, "material_wellbeing": 4, "knowledge_access": 3,
    },
    "housing_support": {"housing": 8, "material_wellbeing": 3, "crisis_impact": 3},
    "mental_wellbeing": {"mental_wellbeing": 8, "physical_health": 3, "empowerment": 3},
    "addiction_support": {"behaviours": 6, "mental_wellbeing": 4, "physical_health": 3},
    "disability_support": {
        "community_participation": 5, "physical_health": 4, "engagement_with_support": 3,
    },
}  # fmt: skip
_ASSESSOR = {"practitioner": 50, "self": 15, "joint": 30, "support_person": 5}
_SATISFACTION_ASSESSOR = {"self": 80, "support_person": 10, "practitioner": 5, "joint": 5}


# --- the standard, as arrays in contract order ------------------------------------------------


def _probabilities(values: Sequence[str], weights: Mapping[str, float]) -> np.ndarray:
    """Weights in contract order; a value the table does not know gets 1% of the table's mass."""
    known = float(sum(weights.values()))
    default = 0.01 * known if known > 0 else 1.0
    w = np.array([float(weights.get(v, default)) for v in values])
    return np.asarray(w / w.sum())


@dataclass(frozen=True)
class Standard:
    """The contracts' value lists, with this module's weights laid over them."""

    episodes: Contract
    assessments: Contract
    programmes: tuple[str, ...]
    programme_p: np.ndarray
    regions: tuple[str, ...]
    region_p: np.ndarray
    neighbours: tuple[tuple[int, ...], ...]
    ages: tuple[str, ...]
    age_p: np.ndarray  # (programme, age)
    genders: tuple[str, ...]
    gender_p: np.ndarray  # (programme, gender)
    ethnicities: tuple[str, ...]
    ethnicity_p: np.ndarray
    referrals: tuple[str, ...]
    referral_p: np.ndarray  # (programme, source)
    exits: tuple[str, ...]
    exit_p: np.ndarray
    exit_change: np.ndarray
    domains: tuple[str, ...]
    is_progress_domain: np.ndarray  # circumstances and goals: scored before and after
    is_satisfaction: np.ndarray
    relevance: np.ndarray  # (programme, domain)
    assessors: tuple[str, ...]
    assessor_p: np.ndarray
    satisfaction_assessor_p: np.ndarray

    @classmethod
    def load(cls) -> Standard:
        ep, asm = load_contract("episodes"), load_contract("assessments")
        programmes = ep.column("programme").accepted_values
        regions = ep.column("region").accepted_values
        ages = ep.column("age_band").accepted_values
        genders = ep.column("gender").accepted_values
        referrals = ep.column("referral_source").accepted_values
        exits = ep.column("exit_reason").accepted_values
        domain_enum = asm.column("domain").enum
        domains = tuple(d.value for d in domain_enum)
        categories = np.array([d.category for d in domain_enum])
        assessors = asm.column("assessed_by").accepted_values
        where = {r: i for i, r in enumerate(regions)}
        return cls(
            episodes=ep,
            assessments=asm,
            programmes=programmes,
            programme_p=_probabilities(programmes, _PROGRAMME_SHARE),
            regions=regions,
            region_p=_probabilities(regions, _REGION_POPULATION),
            neighbours=tuple(
                tuple(where[n] for n in _NEIGHBOURS.get(r, ()) if n in where) for r in regions
            ),
            ages=ages,
            age_p=np.stack([_probabilities(ages, _AGE.get(p, _AGE["*"])) for p in programmes]),
            genders=genders,
            gender_p=np.stack(
                [_probabilities(genders, _GENDER.get(p, _GENDER["*"])) for p in programmes]
            ),
            ethnicities=ep.column("ethnicity").accepted_values,
            ethnicity_p=_probabilities(ep.column("ethnicity").accepted_values, _ETHNICITY),
            referrals=referrals,
            referral_p=np.stack(
                [_boosted(referrals, _REFERRAL, _REFERRAL_BOOST.get(p, {})) for p in programmes]
            ),
            exits=exits,
            exit_p=_probabilities(exits, _EXIT_REASON),
            exit_change=np.array([_EXIT_CHANGE.get(e, 0.0) for e in exits]),
            domains=domains,
            is_progress_domain=np.isin(categories, ["circumstances", "goals"]),
            is_satisfaction=categories == "satisfaction",
            relevance=np.array(
                [
                    [float(_DOMAIN_RELEVANCE.get(p, {}).get(d, 1)) for d in domains]
                    for p in programmes
                ]
            ),
            assessors=assessors,
            assessor_p=_probabilities(assessors, _ASSESSOR),
            satisfaction_assessor_p=_probabilities(assessors, _SATISFACTION_ASSESSOR),
        )


def _boosted(
    values: Sequence[str], base: Mapping[str, float], boost: Mapping[str, float]
) -> np.ndarray:
    w = _probabilities(values, base) * np.array([boost.get(v, 1.0) for v in values])
    return np.asarray(w / w.sum())


def take_values(
    values: Sequence[str], index: np.ndarray, empty: np.ndarray | None = None
) -> pa.Array:
    """``values[index]`` as an arrow string array, null where ``empty`` is true."""
    array = pc.take(pa.array(values, pa.string()), pa.array(index, pa.int64()))
    if empty is not None:
        array = pc.if_else(pa.array(empty), pa.scalar(None, pa.string()), array)
    return array
