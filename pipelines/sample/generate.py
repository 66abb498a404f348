"""Write quarters of sample extracts for a sector of made-up NGOs, one NGO at a time.

The demo, the benchmark and the tests need files shaped like the sector the hub
serves: about 2,000 NGOs, most of them small, a handful with thousands of
clients; clients with several episodes; assessments that mostly improve; and,
over consecutive quarters, the same clients coming back (see ``history``). This
module writes such files NGO by NGO, each NGO's quarters in turn, so that
neither a national quarter nor a national year ever sits in memory. How common
each value is lives in ``shape``; how the files look on disk lives in
``present``.

Each NGO draws from numpy streams of its own, seeded by ``(seed, stream,
index)`` (and the quarter's place in the range), so NGO *k* holds the same data
however many NGOs are generated, and a messy or faulty run holds the same data
as a clean one: presentation and faults draw from streams of their own. A
single quarter is a range of one. This is sample data, never DP noise.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.sample.history import NgoHistory, Window
from pipelines.sample.present import Look, dress, messy_look, write_extract
from pipelines.sample.shape import LARGE_EVERY, Standard
from pipelines.standard.periods import MAX_RANGE, Period

# --- streams ----------------------------------------------------------------------------------

_DATA, _LOOK, _FAULTS, _LARGE, _MESSY = range(5)


def _stream(seed: int, kind: int, index: int, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, kind, index, *more])


# --- public API -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NgoExtract:
    """What was written for one NGO in one quarter: its two files, their row counts and looks."""

    ngo_id: str
    episodes_path: Path
    assessments_path: Path
    clients: int
    episodes: int
    assessments: int
    file_format: str
    messy: bool
    faulty: bool
    continuing: int = 0
    """Clients this NGO also served in the previous quarter generated (0 in the first)."""


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
    if not isinstance(period, Period):
        raise ValueError(f"period must be a Period such as Period.parse('2026-Q3'), got {period!r}")
    (sector,) = _generate(
        [(Path(out_dir), period)], ngos=ngos, seed=seed, messy=messy, messy_share=messy_share,
        faulty=faulty, today=today, progress=progress,
    )  # fmt: skip
    return sector


def generate_quarters(
    out_dir: Path,
    *,
    ngos: int,
    periods: Sequence[Period],
    seed: int,
    messy: bool = False,
    messy_share: float = 1.0,
    faulty: int = 0,
    today: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Sector, ...]:
    """Write consecutive quarters, ``out_dir/<period>/<ngo_id>/``, whose clients persist.

    Each NGO's clients mostly continue from one quarter to the next, some leave and new
    ones arrive; an episode open at a quarter's end appears again in the next quarter with
    the same client and episode references. Arguments as for :func:`generate_sector`;
    ``faulty`` NGOs break the contract in every quarter. ``progress(done, total)`` is
    called after each NGO's quarters are all written.
    """
    periods = tuple(periods)
    if not periods or not all(isinstance(p, Period) for p in periods):
        raise ValueError(
            f"periods must be Periods such as parse_range('2025-Q4..2026-Q3'), got {periods!r}"
        )
    if any(b != a.next() for a, b in itertools.pairwise(periods)):
        raise ValueError(
            f"periods must be consecutive quarters in order, got {', '.join(map(str, periods))}"
        )
    if len(periods) > MAX_RANGE:
        raise ValueError(
            f"at most {MAX_RANGE} quarters can be generated at once, got {len(periods)}"
        )
    return _generate(
        [(Path(out_dir) / str(p), p) for p in periods], ngos=ngos, seed=seed, messy=messy,
        messy_share=messy_share, faulty=faulty, today=today, progress=progress,
    )  # fmt: skip


def _generate(
    targets: Sequence[tuple[Path, Period]],
    *,
    ngos: int,
    seed: int,
    messy: bool,
    messy_share: float,
    faulty: int,
    today: date | None,
    progress: Callable[[int, int], None] | None,
) -> tuple[Sector, ...]:
    today = date.today() if today is None else today
    _check_arguments(
        ngos=ngos, last=targets[-1][1], seed=seed, messy_share=messy_share, faulty=faulty,
        today=today,
    )  # fmt: skip
    standard = Standard.load()
    windows = [(folder, Window.of(period, today)) for folder, period in targets]
    messy_set = _messy_ngos(seed, ngos, messy_share) if messy else frozenset()
    written: list[list[NgoExtract]] = [[] for _ in targets]
    for index in range(ngos):
        quarters = _write_ngo(
            windows, index, seed, standard, messy=index in messy_set, faulty=index < faulty
        )
        for found, extract in zip(written, quarters, strict=True):
            found.append(extract)
        if progress is not None:
            progress(index + 1, ngos)
    return tuple(
        Sector(out_dir=folder, period=str(period), ngos=tuple(found))
        for (folder, period), found in zip(targets, written, strict=True)
    )


def _check_arguments(
    *, ngos: int, last: Period, seed: int, messy_share: float, faulty: int, today: date
) -> None:
    if isinstance(ngos, bool) or not isinstance(ngos, int) or ngos < 1:
        raise ValueError(f"ngos must be at least 1, got {ngos!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0.0 <= messy_share <= 1.0:
        raise ValueError(f"messy_share must be between 0 and 1, got {messy_share!r}")
    if isinstance(faulty, bool) or not isinstance(faulty, int) or not 0 <= faulty <= ngos:
        raise ValueError(f"faulty must be between 0 and ngos ({ngos}), got {faulty!r}")
    if today < last.start:
        raise ValueError(
            f"period {last} starts on {last.start}, after today ({today}); "
            "generate a period that has begun, or pass an earlier period"
        )


def _messy_ngos(seed: int, ngos: int, share: float) -> frozenset[int]:
    count = max(1, round(share * ngos))
    return frozenset(int(i) for i in _stream(seed, _MESSY, 0).permutation(ngos)[:count])


def _write_ngo(
    windows: Sequence[tuple[Path, Window]],
    index: int,
    seed: int,
    std: Standard,
    *,
    messy: bool,
    faulty: bool,
) -> list[NgoExtract]:
    """Draw one NGO's quarters in order and write each as soon as it is drawn."""
    ngo_id = f"ngo-{index + 1:04d}"
    large = _is_large(seed, index)
    history = NgoHistory(std, _stream(seed, _DATA, index), large)
    look = messy_look(_stream(seed, _LOOK, index), large) if messy else Look()
    written = []
    for q, (out_dir, window) in enumerate(windows):
        drawn = history.quarter(_stream(seed, _DATA, index, q + 1), window)
        episodes = drawn.episodes
        if faulty:
            episodes = _with_faults(episodes, std, window.start, _stream(seed, _FAULTS, index, q))
        folder = out_dir / ngo_id
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.combine(window.last_date, time(17, 0))
        dressing = _stream(seed, _LOOK, index, q + 1)
        paths = []
        for dataset, table in (("episodes", episodes), ("assessments", drawn.assessments)):
            dressed, header = dress(table, look, std, dressing)
            paths.append(write_extract(folder / dataset, dressed, header, look, stamp))
        written.append(
            NgoExtract(
                ngo_id=ngo_id,
                episodes_path=paths[0],
                assessments_path=paths[1],
                clients=drawn.clients,
                episodes=episodes.num_rows,
                assessments=drawn.assessments.num_rows,
                file_format="xlsx" if look.xlsx else "csv",
                messy=messy,
                faulty=faulty,
                continuing=drawn.continuing,
            )
        )
    return written


def _is_large(seed: int, index: int) -> bool:
    """One NGO per block of 200 is large; in the first block it is among the first ten."""
    block, offset = divmod(index, LARGE_EVERY)
    return offset == int(
        _stream(seed, _LARGE, block).integers(0, 10 if block == 0 else LARGE_EVERY)
    )


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
