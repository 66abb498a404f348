"""One NGO's clients and episodes, quarter after quarter: who stays, who leaves, who arrives.

A hub lives for years and pseudonyms are stable across quarters, so the sample
sector must be too. Quarter to quarter an NGO serves mostly the same people: an
episode still open when a quarter ends is reported again in the next one, with
the same client and episode references, start date and first scores; a client
whose episodes all ended may come back with a new one; the rest leave, and new
clients arrive to keep the caseload near its usual size. Each episode's way of
ending, its assessment domains and its scores are drawn once, when it begins,
so what a later quarter shows of it (a second score, an exit) agrees with what
an earlier one did.

:class:`NgoHistory` draws this for one NGO, one quarter at a time, keeping only
what the next quarter needs (its clients and its open episodes), so a national
year is written NGO by NGO and quarter by quarter and never held whole. How
common each value is lives in ``shape``; how files look lives in ``present``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Self, cast

import numpy as np
import pyarrow as pa

from pipelines.sample.shape import Standard, draw_clients, drift_clients, take_values
from pipelines.standard.contract import Contract
from pipelines.standard.periods import Period

# (home, neighbour) shares of an NGO's clients; the rest come from anywhere, population-weighted.
_REGION_REACH = {False: (0.88, 0.08), True: (0.30, 0.05)}
_ETHNICITY_SPREAD = 40.0  # Dirichlet concentration: how far one NGO's mix strays from the national
_EPISODES_PER_CLIENT = (1 / 3, 30)  # geometric(p): mean 3 a quarter, a third have one; capped
# The first quarter also reports episodes begun before it (the NGO's history before the sample).
_CARRIED_OVER, _CARRIED_MEAN_DAYS, _CARRIED_MAX_DAYS = 0.45, 120, 3 * 365
_ENDED = 0.70  # an episode open in a quarter ends in it; the rest carry over to the next
_RETURNING = 0.35  # clients whose episodes all ended who come back the next quarter
_MAX_EPISODE_NUMBER = 99  # a client's episodes are numbered 1 to 99
_SESSIONS_SHAPE, _SESSIONS_MEAN = 1.5, 6.0  # negative binomial, per quarter: skewed, ~9% zero
_NO_CONSENT = 0.01
_PAIRED = (0.68, 0.25)  # share of (ended, ongoing) episodes reassessed: ~55% overall
_ASSESSED_ONLY = 0.62  # share of the other episodes with a first score only
_DOMAINS_EXTRA = (5, 0.5)  # 1 + binomial(n, p) circumstances/goals domains per assessed episode
_SATISFACTION = (0.26, 0.06)  # share of (ended, ongoing) episodes with satisfaction rows
_PRE_MEAN, _PRE_CLIENT_SD, _PRE_SD = 2.6, 0.6, 0.8  # on the SCORE 1-5 scale
_CHANGE_MEAN, _CHANGE_SD = 0.5, 0.9
_SATISFIED_MEAN, _SATISFIED_SD = 4.1, 0.9
# Client numbers stay below a million (ids C-0123456, E-00123456-1): longer runs of significant
# digits could read as a phone number to the identifier screen, and a sample file would be refused.
_NUMBERS = 1_000_000
_EPOCH = date(1970, 1, 1).toordinal()  # numpy's day 0


def day(d: date) -> int:
    return d.toordinal() - _EPOCH


@dataclass(frozen=True)
class Window:
    """A quarter as day numbers: no date may fall after ``last`` (the quarter's end, or today)."""

    start: int
    last: int

    @property
    def last_date(self) -> date:
        return date.fromordinal(_EPOCH + self.last)

    @classmethod
    def of(cls, period: Period, today: date) -> Window:
        return cls(day(period.start), day(min(period.end, today)))


def _pick(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    return rng.choice(len(p), size=size, p=p)


def _dates(days: np.ndarray, empty: np.ndarray | None = None) -> pa.Array:
    return pa.array(days.astype("datetime64[D]"), pa.date32(), mask=empty)


def _ranked(keys: np.ndarray) -> np.ndarray:
    """Each cell's rank within its row, largest key first."""
    return np.argsort(np.argsort(-keys, axis=1, kind="stable"), axis=1, kind="stable")


def _in_contract_order(columns: Mapping[str, pa.Array], contract: Contract) -> pa.Table:
    names = [c for c in contract.column_names if c in columns]
    return pa.table([columns[c] for c in names], names=names)


class _Columns:
    """Frozen dataclasses of equal-length arrays: rows are taken and joined field by field."""

    def take(self, rows: np.ndarray) -> Self:
        made: Any = type(self)
        return cast(Self, made(**{k: v[rows] for k, v in vars(self).items()}))

    def joined(self, other: Self) -> Self:
        made: Any = type(self)
        theirs = vars(other)
        return cast(
            Self, made(**{k: np.concatenate([v, theirs[k]]) for k, v in vars(self).items()})
        )

    def __len__(self) -> int:
        return len(next(iter(vars(self).values())))


@dataclass(frozen=True)
class _Clients(_Columns):
    """Everyone the NGO has served; demographics never change."""

    number: np.ndarray
    primary: np.ndarray  # main programme
    age: np.ndarray
    gender: np.ndarray
    ethnicity: np.ndarray
    region: np.ndarray
    no_consent: np.ndarray
    level: np.ndarray  # how a client tends to score, before any change


@dataclass(frozen=True)
class _Episodes(_Columns):
    """Episodes, with everything drawn when they begin."""

    key: np.ndarray  # the NGO's running episode number: links an episode to its scores
    client: np.ndarray  # index into the clients
    number: np.ndarray  # the client's episode number (in the episode id)
    programme: np.ndarray
    referral: np.ndarray
    referral_empty: np.ndarray
    start: np.ndarray
    exit_reason: np.ndarray  # how it will end, shown once it does
    paired_draw: np.ndarray  # reassessed once below _PAIRED (ended or not)
    assessed_draw: np.ndarray
    satisfied_draw: np.ndarray


@dataclass(frozen=True)
class _Scores(_Columns):
    """Every assessment an episode can show: one row per domain, drawn when it begins."""

    key: np.ndarray
    domain: np.ndarray
    pre: np.ndarray
    post: np.ndarray
    satisfaction: np.ndarray
    assessor: np.ndarray
    assessor_empty: np.ndarray


@dataclass(frozen=True)
class Quarter:
    """One NGO's rows for one quarter, and who is in them."""

    episodes: pa.Table
    assessments: pa.Table
    clients: int
    continuing: int
    """Clients also served in the NGO's previous quarter (0 in the first)."""


class NgoHistory:
    """One NGO's history, drawn a quarter at a time (see the module docstring).

    ``profile`` draws what the NGO is (size, programmes, place, who it serves); each call of
    :meth:`quarter` draws one quarter from its own generator, in order.
    """

    def __init__(self, std: Standard, profile: np.random.Generator, large: bool) -> None:
        rng = profile
        self._std = std
        self._large = large
        self._usual = draw_clients(rng, large)
        self._offered = rng.choice(
            len(std.programmes),
            size=min(
                len(std.programmes),
                (3 + rng.binomial(3, 0.5)) if large else (1 + rng.binomial(2, 0.35)),
            ),
            replace=False,
            p=std.programme_p,
        )
        self._mix = rng.dirichlet(np.full(len(self._offered), 2.0))
        self._home = int(_pick(rng, std.region_p, 1)[0])
        self._ethnicity_p = rng.dirichlet(np.maximum(std.ethnicity_p * _ETHNICITY_SPREAD, 1e-3))
        self._referral_blank = 0.4 if rng.random() < 0.3 else 0.03
        self._blank_means_consent = bool(rng.random() < 0.25)
        self._records_assessor = bool(rng.random() < 0.75)
        self._clients: _Clients | None = None
        self._next_number = np.zeros(0, np.int64)
        self._open: _Episodes | None = None
        self._open_scores: _Scores | None = None
        self._last_active = np.zeros(0, np.int64)
        self._next_key = 0

    # --- clients --------------------------------------------------------------------------------

    def _numbers(self, rng: np.random.Generator, k: int) -> np.ndarray:
        if self._clients is None:  # the first quarter's clients, as the one-quarter sector had
            return np.sort(rng.choice(np.arange(1, 10 * k + 1000), size=k, replace=False))
        used = set(self._clients.number.tolist())
        found: list[int] = []
        while len(found) < k:
            for n in rng.integers(1, _NUMBERS, size=2 * (k - len(found))).tolist():
                if n not in used and len(found) < k:
                    used.add(n)
                    found.append(n)
        return np.array(found, np.int64)

    def _arrive(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """``k`` new clients; returns their indices."""
        std = self._std
        primary = self._offered[_pick(rng, self._mix, k)]
        age = np.zeros(k, np.int64)
        gender = np.zeros(k, np.int64)
        for p in self._offered:
            who = primary == p
            age[who] = _pick(rng, std.age_p[p], int(who.sum()))
            gender[who] = _pick(rng, std.gender_p[p], int(who.sum()))
        near = std.neighbours[self._home] or (self._home,)
        p_home, p_near = _REGION_REACH[self._large]
        u = rng.random(k)
        region = np.where(
            u < p_home,
            self._home,
            np.where(
                u < p_home + p_near,
                np.array(near)[rng.integers(0, len(near), k)],
                _pick(rng, std.region_p, k),
            ),
        )
        new = _Clients(
            number=self._numbers(rng, k),
            primary=primary,
            age=age,
            gender=gender,
            ethnicity=_pick(rng, self._ethnicity_p, k),
            region=region,
            no_consent=rng.random(k) < _NO_CONSENT,
            level=rng.normal(0.0, _PRE_CLIENT_SD, k),
        )
        first = 0 if self._clients is None else len(self._clients)
        self._clients = new if self._clients is None else self._clients.joined(new)
        self._next_number = np.concatenate([self._next_number, np.ones(k, np.int64)])
        return np.arange(first, first + k)

    # --- one quarter ----------------------------------------------------------------------------

    def quarter(self, rng: np.random.Generator, window: Window) -> Quarter:
        """The NGO's next quarter: its open episodes carried over, its clients' new episodes."""
        first = self._clients is None
        carried = self._open
        if first:
            active = self._arrive(rng, self._usual)
        else:
            assert carried is not None
            continuing = np.unique(carried.client)
            done = np.setdiff1d(self._last_active, continuing)
            returning = done[rng.random(len(done)) < _RETURNING]
            target = drift_clients(rng, self._usual, self._large)
            returning = returning[: max(target - len(continuing), 0)]
            arriving = self._arrive(rng, max(target - len(continuing) - len(returning), 0))
            active = np.concatenate([continuing, returning, arriving])
        new, new_scores = self._begin(rng, active, window, first=first)
        if carried is not None and self._open_scores is not None:
            episodes, scores = carried.joined(new), self._open_scores.joined(new_scores)
        else:
            episodes, scores = new, new_scores
        order = np.lexsort((episodes.number, episodes.client))
        episodes = episodes.take(order)
        ended = rng.random(len(episodes)) < _ENDED
        table = self._episode_table(rng, episodes, ended, window)
        assessments = self._assessment_table(episodes, ended, scores, table)
        self._open = episodes.take(~ended)
        self._open_scores = scores.take(np.isin(scores.key, self._open.key))
        served = np.unique(episodes.client)
        continuing_count = int(np.isin(served, self._last_active).sum())
        self._last_active = served
        return Quarter(table, assessments, len(served), continuing_count)

    def _begin(
        self, rng: np.random.Generator, active: np.ndarray, window: Window, *, first: bool
    ) -> tuple[_Episodes, _Scores]:
        """New episodes for the quarter's clients: a geometric number a quarter each, less the
        episodes they carry over, mostly in their main programme."""
        std, clients = self._std, self._clients
        assert clients is not None
        p_geo, cap = _EPISODES_PER_CLIENT
        wanted = np.minimum(rng.geometric(p_geo, len(active)), cap)
        if self._open is not None:
            carried = np.bincount(self._open.client, minlength=len(clients))[active]
            wanted = np.maximum(wanted - carried, 0)
        room = _MAX_EPISODE_NUMBER + 1 - self._next_number[active]
        count = np.minimum(wanted, np.maximum(room, 0))
        m = int(count.sum())
        client = np.repeat(active, count)
        offset = np.arange(m) - np.repeat(np.cumsum(count) - count, count)
        number = self._next_number[client] + offset
        self._next_number[active] += count
        programme = np.where(
            rng.random(m) < 0.8,
            clients.primary[client],
            self._offered[_pick(rng, self._mix, m)],
        )
        referral = np.zeros(m, np.int64)
        for p in self._offered:
            rows = programme == p
            referral[rows] = _pick(rng, std.referral_p[p], int(rows.sum()))
        within = window.start + np.floor(rng.random(m) * (window.last - window.start + 1))
        start = within.astype(np.int64)
        if first:
            before = rng.random(m) < _CARRIED_OVER
            back = np.minimum(rng.geometric(1 / _CARRIED_MEAN_DAYS, m), _CARRIED_MAX_DAYS)
            start = np.where(before, window.start - back, start)
        keys = np.arange(self._next_key, self._next_key + m)
        self._next_key += m
        episodes = _Episodes(
            key=keys,
            client=client,
            number=number,
            programme=programme,
            referral=referral,
            referral_empty=rng.random(m) < self._referral_blank,
            start=start,
            exit_reason=_pick(rng, std.exit_p, m),
            paired_draw=rng.random(m),
            assessed_draw=rng.random(m),
            satisfied_draw=rng.random(m),
        )
        return episodes, self._scores(rng, episodes)

    def _scores(self, rng: np.random.Generator, eps: _Episodes) -> _Scores:
        """Every assessment each new episode can show: its domains (weighted by the programme,
        sampled without replacement: keys u ** (1 / w), top k) and scores that mostly improve;
        satisfaction is scored once, and high."""
        std, clients = self._std, self._clients
        assert clients is not None
        m, d = len(eps), len(std.domains)
        n_progress, n_satisfaction = (
            int(std.is_progress_domain.sum()),
            int(std.is_satisfaction.sum()),
        )
        k_progress = np.minimum(1 + rng.binomial(*_DOMAINS_EXTRA, m), n_progress)
        k_satisfaction = np.minimum(
            1 + rng.binomial(max(n_satisfaction - 1, 0), 0.6, m), n_satisfaction
        )
        weight = np.maximum(std.relevance[eps.programme], 1e-9)
        progress_key = np.where(std.is_progress_domain, rng.random((m, d)) ** (1.0 / weight), -1.0)
        satisfaction_key = np.where(std.is_satisfaction, rng.random((m, d)), -1.0)
        chosen = ((_ranked(progress_key) < k_progress[:, None]) & std.is_progress_domain) | (
            (_ranked(satisfaction_key) < k_satisfaction[:, None]) & std.is_satisfaction
        )
        episode, domain = np.nonzero(chosen)  # by episode, then domain in contract order
        r = len(episode)
        pre_col = std.assessments.column("pre_score")
        lo, hi = int(pre_col.minimum or 1), int(pre_col.maximum or 5)
        level = clients.level[eps.client[episode]]
        satisfaction = std.is_satisfaction[domain]
        pre = np.rint(_PRE_MEAN + level + rng.normal(0.0, _PRE_SD, r))
        pre = np.where(satisfaction, np.rint(rng.normal(_SATISFIED_MEAN, _SATISFIED_SD, r)), pre)
        change_mean = _CHANGE_MEAN + std.exit_change[eps.exit_reason[episode]]
        pre = np.clip(pre, lo, hi).astype(np.int64)
        post = np.clip(pre + np.rint(rng.normal(change_mean, _CHANGE_SD)), lo, hi).astype(np.int64)
        assessor = np.where(
            satisfaction,
            _pick(rng, std.satisfaction_assessor_p, r),
            _pick(rng, std.assessor_p, m)[episode],
        )
        return _Scores(
            key=eps.key[episode],
            domain=domain,
            pre=pre,
            post=post,
            satisfaction=satisfaction,
            assessor=assessor,
            assessor_empty=np.full(r, not self._records_assessor) | (rng.random(r) < 0.03),
        )

    # --- the quarter's files, as tables ---------------------------------------------------------

    def _episode_table(
        self, rng: np.random.Generator, eps: _Episodes, ended: np.ndarray, window: Window
    ) -> pa.Table:
        std, clients = self._std, self._clients
        assert clients is not None
        m = len(eps)
        from_day = np.maximum(eps.start, window.start)
        end = from_day + np.floor(rng.random(m) * (window.last - from_day + 1)).astype(np.int64)
        sessions_max = int(std.episodes.column("sessions").maximum or 1000)
        shape = _SESSIONS_SHAPE
        sessions = np.minimum(
            rng.negative_binomial(shape, shape / (shape + _SESSIONS_MEAN), m), sessions_max
        )
        who = eps.client
        consent = ~clients.no_consent[who]
        numbers = clients.number[who]
        columns = {
            "client_id": pa.array([f"C-{c:07d}" for c in numbers.tolist()], pa.string()),
            "episode_id": pa.array(
                [
                    f"E-{c:08d}-{s}"
                    for c, s in zip(numbers.tolist(), eps.number.tolist(), strict=True)
                ],
                pa.string(),
            ),
            "programme": take_values(std.programmes, eps.programme),
            "region": take_values(std.regions, clients.region[who]),
            "age_band": take_values(std.ages, clients.age[who]),
            "gender": take_values(std.genders, clients.gender[who]),
            "ethnicity": take_values(std.ethnicities, clients.ethnicity[who]),
            "referral_source": take_values(std.referrals, eps.referral, eps.referral_empty),
            "start_date": _dates(eps.start),
            "end_date": _dates(end, ~ended),
            "sessions": pa.array(sessions, pa.int64()),
            "exit_reason": take_values(std.exits, eps.exit_reason, ~ended),
            "consent_aggregate": pa.array(
                consent, pa.bool_(), mask=consent & self._blank_means_consent
            ),
        }
        return _in_contract_order(columns, std.episodes)

    def _assessment_table(
        self, eps: _Episodes, ended: np.ndarray, scores: _Scores, episodes: pa.Table
    ) -> pa.Table:
        """The assessments the quarter shows: an episode's first scores once assessed, its
        second once reassessed (more often once it has ended), satisfaction once asked."""
        std = self._std
        position = np.argsort(eps.key)
        row = position[np.searchsorted(eps.key[position], scores.key)]  # score -> episode row
        paired = eps.paired_draw < np.where(ended, *_PAIRED)
        assessed = paired | (eps.assessed_draw < _ASSESSED_ONLY)
        satisfied = eps.satisfied_draw < np.where(ended, *_SATISFACTION)
        shown = np.where(scores.satisfaction, satisfied[row], assessed[row])
        order = np.lexsort((scores.domain[shown], row[shown]))
        picked = scores.take(np.flatnonzero(shown)[order])
        on = row[shown][order]
        no_post = picked.satisfaction | ~paired[on]
        source = episodes.select(["client_id", "episode_id"]).take(pa.array(on, pa.int64()))
        columns = {
            "client_id": source.column("client_id").combine_chunks(),
            "episode_id": source.column("episode_id").combine_chunks(),
            "domain": take_values(std.domains, picked.domain),
            "pre_score": pa.array(picked.pre, pa.int64()),
            "post_score": pa.array(picked.post, pa.int64(), mask=no_post),
            "assessed_by": take_values(std.assessors, picked.assessor, picked.assessor_empty),
        }
        return _in_contract_order(columns, std.assessments)
