"""Write one quarter of sample extracts for a sector of made-up NGOs.

The demo, the benchmark and the tests need files shaped like the sector the hub
serves: about 2,000 NGOs, most of them small, a handful with thousands of
clients; clients with several episodes; assessments that mostly improve. This
module makes such files, one NGO at a time so that a national quarter never
sits in memory. How common each value is lives in ``shape``; how the files
look on disk lives in ``present``.

Each NGO draws from its own numpy streams, seeded by ``(seed, stream, index)``,
so NGO *k* holds the same data however many NGOs are generated, and a messy or
faulty run holds the same data as a clean one: presentation and faults draw
from streams of their own. This is sample data, never DP noise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.sample.present import Look, dress, messy_look, write_extract
from pipelines.sample.shape import LARGE_EVERY, Standard, draw_clients, take_values
from pipelines.standard.contract import Contract
from pipelines.standard.periods import Period

# --- how one NGO's rows are drawn -------------------------------------------------------------

# (home, neighbour) shares of an NGO's clients; the rest come from anywhere, population-weighted.
_REGION_REACH = {False: (0.88, 0.08), True: (0.30, 0.05)}
_ETHNICITY_SPREAD = 40.0  # Dirichlet concentration: how far one NGO's mix strays from the national
_EPISODES_PER_CLIENT = (1 / 3, 30)  # geometric(p): mean 3, a third have one; capped
_CARRIED_OVER, _CARRIED_MEAN_DAYS, _CARRIED_MAX_DAYS = 0.45, 120, 3 * 365
_ENDED = 0.70
_SESSIONS_SHAPE, _SESSIONS_MEAN = 1.5, 6.0  # negative binomial: skewed, ~9% zero
_NO_CONSENT = 0.01
_PAIRED = (0.68, 0.25)  # share of (ended, ongoing) episodes reassessed: ~55% overall
_ASSESSED_ONLY = 0.62  # share of the other episodes with a first score only
_DOMAINS_EXTRA = (5, 0.5)  # 1 + binomial(n, p) circumstances/goals domains per assessed episode
_SATISFACTION = (0.26, 0.06)  # share of (ended, ongoing) episodes with satisfaction rows
_PRE_MEAN, _PRE_CLIENT_SD, _PRE_SD = 2.6, 0.6, 0.8  # on the SCORE 1-5 scale
_CHANGE_MEAN, _CHANGE_SD = 0.5, 0.9
_SATISFIED_MEAN, _SATISFIED_SD = 4.1, 0.9

# --- streams ----------------------------------------------------------------------------------

_DATA, _LOOK, _FAULTS, _LARGE, _MESSY = range(5)


def _stream(seed: int, kind: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, kind, index])


# --- public API -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NgoExtract:
    """What was written for one NGO: its two files, their row counts and how they look."""

    ngo_id: str
    episodes_path: Path
    assessments_path: Path
    clients: int
    episodes: int
    assessments: int
    file_format: str
    messy: bool
    faulty: bool


@dataclass(frozen=True)
class Sector:
    """One quarter of sample extracts: one folder per NGO under ``out_dir``."""

    out_dir: Path
    period: str
    ngos: tuple[NgoExtract, ...]


def generate_sector(
    out_dir: Path,
    *,
    ngos: int,
    period: Period,
    seed: int,
    messy: bool = False,
    messy_share: float = 1.0,
    faulty: int = 0,
    today: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Sector:
    """Write ``out_dir/<ngo_id>/episodes.csv`` and ``assessments.csv`` (or ``.xlsx``) per NGO.

    The same arguments (and ``today``) give byte-identical files. ``messy`` dresses
    ``round(messy_share * ngos)`` NGOs (at least one) like real exports; ``faulty``
    plants contract violations in the episodes files of the first ``faulty`` NGOs.
    """
    today = date.today() if today is None else today
    _check_arguments(
        ngos=ngos, period=period, seed=seed, messy_share=messy_share, faulty=faulty, today=today
    )
    standard = Standard.load()
    window = _Window.of(period, today)
    messy_set = _messy_ngos(seed, ngos, messy_share) if messy else frozenset()
    out_dir = Path(out_dir)
    written = []
    for index in range(ngos):
        written.append(
            _write_ngo(
                out_dir, index, seed, standard, window,
                messy=index in messy_set, faulty=index < faulty,
            )
        )  # fmt: skip
        if progress is not None:
            progress(index + 1, ngos)
    return Sector(out_dir=out_dir, period=str(period), ngos=tuple(written))


def _check_arguments(
    *, ngos: int, period: Period, seed: int, messy_share: float, faulty: int, today: date
) -> None:
    if isinstance(ngos, bool) or not isinstance(ngos, int) or ngos < 1:
        raise ValueError(f"ngos must be at least 1, got {ngos!r}")
    if not isinstance(period, Period):
        raise ValueError(f"period must be a Period such as Period.parse('2026-Q3'), got {period!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0.0 <= messy_share <= 1.0:
        raise ValueError(f"messy_share must be between 0 and 1, got {messy_share!r}")
    if isinstance(faulty, bool) or not isinstance(faulty, int) or not 0 <= faulty <= ngos:
        raise ValueError(f"faulty must be between 0 and ngos ({ngos}), got {faulty!r}")
    if today < period.start:
        raise ValueError(
            f"period {period} starts on {period.start}, after today ({today}); "
            "generate a period that has begun, or pass an earlier period"
        )


def _messy_ngos(seed: int, ngos: int, share: float) -> frozenset[int]:
    count = max(1, round(share * ngos))
    return frozenset(int(i) for i in _stream(seed, _MESSY, 0).permutation(ngos)[:count])


def _write_ngo(
    out_dir: Path,
    index: int,
    seed: int,
    std: Standard,
    window: _Window,
    *,
    messy: bool,
    faulty: bool,
) -> NgoExtract:
    ngo_id = f"ngo-{index + 1:04d}"
    large = _is_large(seed, index)
    data = _stream(seed, _DATA, index)
    episodes = _episodes(std, data, large, window)
    assessments = _assessments(std, data, episodes)
    episodes_table = episodes.table
    if faulty:
        episodes_table = _with_faults(
            episodes_table, std, window.start, _stream(seed, _FAULTS, index)
        )

    looks = _stream(seed, _LOOK, index)
    look = messy_look(looks, large) if messy else Look()
    folder = out_dir / ngo_id
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.combine(window.last_date, time(17, 0))
    paths = []
    for dataset, table in (("episodes", episodes_table), ("assessments", assessments)):
        dressed, header = dress(table, look, std, looks)
        paths.append(write_extract(folder / dataset, dressed, header, look, stamp))
    return NgoExtract(
        ngo_id=ngo_id,
        episodes_path=paths[0],
        assessments_path=paths[1],
        clients=episodes.clients,
        episodes=episodes_table.num_rows,
        assessments=assessments.num_rows,
        file_format="xlsx" if look.xlsx else "csv",
        messy=messy,
        faulty=faulty,
    )


@dataclass(frozen=True)
class _Window:
    """The period as day numbers: no date may fall after ``last`` (period end or today)."""

    start: int
    last: int

    @property
    def last_date(self) -> date:
        return date.fromordinal(_EPOCH + self.last)

    @classmethod
    def of(cls, period: Period, today: date) -> _Window:
        last = min(period.end, today)
        return cls(_day(period.start), _day(last))


_EPOCH = date(1970, 1, 1).toordinal()  # numpy's day 0


def _day(d: date) -> int:
    return d.toordinal() - _EPOCH


# --- one NGO's data ---------------------------------------------------------------------------


def _is_large(seed: int, index: int) -> bool:
    """One NGO per block of 200 is large; in the first block it is among the first ten."""
    block, offset = divmod(index, LARGE_EVERY)
    return offset == int(
        _stream(seed, _LARGE, block).integers(0, 10 if block == 0 else LARGE_EVERY)
    )


def _pick(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    return rng.choice(len(p), size=size, p=p)


def _dates(days: np.ndarray, empty: np.ndarray | None = None) -> pa.Array:
    return pa.array(days.astype("datetime64[D]"), pa.date32(), mask=empty)


@dataclass(frozen=True)
class _Episodes:
    """An NGO's episodes, and what its assessments need to know about them."""

    table: pa.Table
    clients: int
    client_of: np.ndarray  # episode -> client index
    programme: np.ndarray
    ended: np.ndarray
    exit_reason: np.ndarray


def _episodes(std: Standard, rng: np.random.Generator, large: bool, window: _Window) -> _Episodes:
    n = draw_clients(rng, large)
    # The NGO: the programmes it runs, where it is, who it serves, what it records.
    offered = rng.choice(
        len(std.programmes),
        size=min(
            len(std.programmes),
            (3 + rng.binomial(3, 0.5)) if large else (1 + rng.binomial(2, 0.35)),
        ),
        replace=False,
        p=std.programme_p,
    )
    mix = rng.dirichlet(np.full(len(offered), 2.0))
    home = int(_pick(rng, std.region_p, 1)[0])
    ethnicity_p = rng.dirichlet(np.maximum(std.ethnicity_p * _ETHNICITY_SPREAD, 1e-3))
    referral_blank = 0.4 if rng.random() < 0.3 else 0.03
    blank_means_consent = bool(rng.random() < 0.25)

    # Clients: demographics are fixed across their episodes.
    client_no = np.sort(rng.choice(np.arange(1, 10 * n + 1000), size=n, replace=False))
    primary = offered[_pick(rng, mix, n)]
    age = np.zeros(n, np.int64)
    gender = np.zeros(n, np.int64)
    for p in offered:
        who = primary == p
        age[who] = _pick(rng, std.age_p[p], int(who.sum()))
        gender[who] = _pick(rng, std.gender_p[p], int(who.sum()))
    ethnicity = _pick(rng, ethnicity_p, n)
    near = std.neighbours[home] or (home,)
    p_home, p_near = _REGION_REACH[large]
    u = rng.random(n)
    region = np.where(
        u < p_home,
        home,
        np.where(
            u < p_home + p_near,
            np.array(near)[rng.integers(0, len(near), n)],
            _pick(rng, std.region_p, n),
        ),
    )
    no_consent = rng.random(n) < _NO_CONSENT

    # Episodes: a geometric number per client, mostly in the client's main programme.
    p_geo, cap = _EPISODES_PER_CLIENT
    per_client = np.minimum(rng.geometric(p_geo, n), cap)
    m = int(per_client.sum())
    client_of = np.repeat(np.arange(n), per_client)
    seq = np.arange(m) - np.repeat(np.cumsum(per_client) - per_client, per_client) + 1
    programme = np.where(rng.random(m) < 0.8, primary[client_of], offered[_pick(rng, mix, m)])
    referral = np.zeros(m, np.int64)
    for p in offered:
        rows = programme == p
        referral[rows] = _pick(rng, std.referral_p[p], int(rows.sum()))
    referral_empty = rng.random(m) < referral_blank

    carried = rng.random(m) < _CARRIED_OVER
    back = np.minimum(rng.geometric(1 / _CARRIED_MEAN_DAYS, m), _CARRIED_MAX_DAYS)
    within = window.start + np.floor(rng.random(m) * (window.last - window.start + 1)).astype(
        np.int64
    )
    start = np.where(carried, window.start - back, within)
    ended = rng.random(m) < _ENDED
    from_day = np.maximum(start, window.start)
    end = from_day + np.floor(rng.random(m) * (window.last - from_day + 1)).astype(np.int64)
    sessions_max = int(std.episodes.column("sessions").maximum or 1000)
    shape = _SESSIONS_SHAPE
    sessions = np.minimum(
        rng.negative_binomial(shape, shape / (shape + _SESSIONS_MEAN), m), sessions_max
    )
    exit_reason = _pick(rng, std.exit_p, m)

    consent = ~no_consent[client_of]
    columns = {
        "client_id": pa.array([f"C-{c:07d}" for c in client_no]).take(pa.array(client_of)),
        "episode_id": pa.array(
            [f"E-{c:08d}-{s}" for c, s in zip(client_no[client_of], seq, strict=True)]
        ),
        "programme": take_values(std.programmes, programme),
        "region": take_values(std.regions, region[client_of]),
        "age_band": take_values(std.ages, age[client_of]),
        "gender": take_values(std.genders, gender[client_of]),
        "ethnicity": take_values(std.ethnicities, ethnicity[client_of]),
        "referral_source": take_values(std.referrals, referral, referral_empty),
        "start_date": _dates(start),
        "end_date": _dates(end, ~ended),
        "sessions": pa.array(sessions, pa.int64()),
        "exit_reason": take_values(std.exits, exit_reason, ~ended),
        "consent_aggregate": pa.array(consent, pa.bool_(), mask=consent & blank_means_consent),
    }
    return _Episodes(
        table=_in_contract_order(columns, std.episodes),
        clients=n,
        client_of=client_of,
        programme=programme,
        ended=ended,
        exit_reason=exit_reason,
    )


def _in_contract_order(columns: Mapping[str, pa.Array], contract: Contract) -> pa.Table:
    names = [c for c in contract.column_names if c in columns]
    return pa.table([columns[c] for c in names], names=names)


def _ranked(keys: np.ndarray) -> np.ndarray:
    """Each cell's rank within its row, largest key first."""
    return np.argsort(np.argsort(-keys, axis=1, kind="stable"), axis=1, kind="stable")


def _assessments(std: Standard, rng: np.random.Generator, eps: _Episodes) -> pa.Table:
    m, d = len(eps.client_of), len(std.domains)
    paired = rng.random(m) < np.where(eps.ended, *_PAIRED)
    assessed = paired | (rng.random(m) < _ASSESSED_ONLY)
    satisfied = rng.random(m) < np.where(eps.ended, *_SATISFACTION)

    # Which domains: weighted sampling without replacement (keys u ** (1 / w), take the top k).
    n_progress, n_satisfaction = int(std.is_progress_domain.sum()), int(std.is_satisfaction.sum())
    k_progress = np.minimum(1 + rng.binomial(*_DOMAINS_EXTRA, m), n_progress)
    k_satisfaction = np.minimum(
        1 + rng.binomial(max(n_satisfaction - 1, 0), 0.6, m), n_satisfaction
    )
    weight = np.maximum(std.relevance[eps.programme], 1e-9)
    progress_key = np.where(std.is_progress_domain, rng.random((m, d)) ** (1.0 / weight), -1.0)
    satisfaction_key = np.where(std.is_satisfaction, rng.random((m, d)), -1.0)
    chosen = (
        (_ranked(progress_key) < k_progress[:, None]) & std.is_progress_domain & assessed[:, None]
    ) | (
        (_ranked(satisfaction_key) < k_satisfaction[:, None])
        & std.is_satisfaction
        & satisfied[:, None]
    )
    episode, domain = np.nonzero(chosen)  # by episode, then domain in contract order
    r = len(episode)

    # Scores: clients start low and mostly improve; satisfaction is scored once, and high.
    pre_col = std.assessments.column("pre_score")
    lo, hi = int(pre_col.minimum or 1), int(pre_col.maximum or 5)
    level = rng.normal(0.0, _PRE_CLIENT_SD, eps.clients)[eps.client_of[episode]]
    pre = np.rint(_PRE_MEAN + level + rng.normal(0.0, _PRE_SD, r))
    satisfaction_row = std.is_satisfaction[domain]
    pre = np.where(satisfaction_row, np.rint(rng.normal(_SATISFIED_MEAN, _SATISFIED_SD, r)), pre)
    change_mean = _CHANGE_MEAN + np.where(
        eps.ended[episode], std.exit_change[eps.exit_reason[episode]], 0.0
    )
    pre = np.clip(pre, lo, hi).astype(np.int64)
    post = np.clip(pre + np.rint(rng.normal(change_mean, _CHANGE_SD)), lo, hi).astype(np.int64)
    no_post = satisfaction_row | ~paired[episode]

    records = rng.random() < 0.75
    assessor = np.where(
        satisfaction_row,
        _pick(rng, std.satisfaction_assessor_p, r),
        _pick(rng, std.assessor_p, m)[episode],
    )
    assessor_empty = np.full(r, not records) | (rng.random(r) < 0.03)

    source = eps.table.select(["client_id", "episode_id"]).take(pa.array(episode, pa.int64()))
    columns = {
        "client_id": source.column("client_id").combine_chunks(),
        "episode_id": source.column("episode_id").combine_chunks(),
        "domain": take_values(std.domains, domain),
        "pre_score": pa.array(pre, pa.int64()),
        "post_score": pa.array(post, pa.int64(), mask=no_post),
        "assessed_by": take_values(std.assessors, assessor, assessor_empty),
    }
    return _in_contract_order(columns, std.assessments)


# --- faults: real contract violations, for the demo -------------------------------------------


def _misspelt(value: str, accepted: Sequence[str]) -> str:
    """``parenting`` becomes ``parentng``: the last inner vowel dropped, as a typist would."""
    inner = [i for i, ch in enumerate(value[:-1]) if ch in "aeiou" and i > 0]
    typo = value[: inner[-1]] + value[inner[-1] + 1 :] if inner else value + "x"
    return typo if typo not in accepted else typo + "x"


def _with_faults(
    table: pa.Table, std: Standard, window_start: int, rng: np.random.Generator
) -> pa.Table:
    """Two episodes end before they start, one programme is misspelt, one has too many sessions."""
    m = table.num_rows
    start = table.column("start_date").combine_chunks().to_numpy(zero_copy_only=False)
    end = table.column("end_date").combine_chunks()
    # Prefer ended episodes that start well inside the period, so each fault breaks one rule.
    ended = end.is_valid().to_numpy(zero_copy_only=False)
    late = np.flatnonzero(ended & (start.astype(np.int64) >= window_start + 15))
    pool = late if len(late) >= 2 else np.arange(m)
    first = rng.choice(pool, size=2, replace=False)
    rest = rng.choice(np.setdiff1d(np.arange(m), first), size=2, replace=False)
    # replace_with_mask fills masked slots in row order, so the rows must be in row order too.
    backwards, typo, busy = np.sort(first), int(rest[0]), int(rest[1])
    new_end = start[backwards].astype("datetime64[D]") - rng.integers(1, 15, 2)
    end = pc.replace_with_mask(end, _mask(m, backwards), pa.array(new_end, pa.date32()))

    programme = table.column("programme").combine_chunks()
    wrong = _misspelt(programme[typo].as_py(), std.programmes)
    programme = pc.replace_with_mask(programme, _mask(m, [typo]), pa.array([wrong]))

    too_many = int(std.episodes.column("sessions").maximum or 1000) + 500
    sessions = table.column("sessions").combine_chunks()
    sessions = pc.replace_with_mask(sessions, _mask(m, [busy]), pa.array([too_many], pa.int64()))

    for name, column in (("end_date", end), ("programme", programme), ("sessions", sessions)):
        table = table.set_column(table.column_names.index(name), name, column)
    return table


def _mask(size: int, rows: Sequence[int] | np.ndarray) -> pa.Array:
    mask = np.zeros(size, bool)
    mask[np.asarray(rows, np.int64)] = True
    return pa.array(mask)
