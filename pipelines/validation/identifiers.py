"""Find direct identifiers (names, addresses, phones, emails, birth dates, NHI, IRD) in extracts.

The hub never accepts direct identifiers, in any column, under any name. What
counts as one is data: the contracts' ``forbiddenIdentifiers`` property lists,
per kind, the column names and name patterns that give a column away and the
value patterns (with checksums) that give a value away. Nothing here copies
those lists; this module only knows how to apply them, fast.

Speed matters because the hub re-checks a national quarter (~3 million rows)
where almost nothing matches. Each column is therefore scanned with vectorised
RE2 (pyarrow.compute) using one combined pattern; values that are exactly an
accepted enum value are masked out first, and low-cardinality columns (dates,
counts) are scanned once per distinct value. Python ``re`` and the checksums
run only on the few candidate values.

A finding names a column, a kind and row numbers. It never carries a value,
and nothing here logs a value or puts one in an exception message.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.standard.contract import Column, Contract, ContractError, ForbiddenIdentifier
from pipelines.validation.checksums import ird_is_valid, nhi_is_valid
from pipelines.validation.findings import MAX_ROWS_LISTED, IdentifierFinding

__all__ = [
    "MAX_ROWS_LISTED",
    "IdentifierFinding",
    "find_direct_identifiers",
    "ird_is_valid",
    "nhi_is_valid",
]


_ROW = "_row"
_SUBMISSION = "_submission"
_SCOPES = ("cell", "token")
# What each named normaliser strips before a value pattern is applied. Text made
# only of letters and digits is never changed by them, which lets the scan skip it.
_NORMALISERS = {"phone_punctuation": r"[\s\-.()\x{00A0}\x{2010}-\x{2015}]"}
_PARALLEL_ROWS = 100_000  # below this, threads cost more than they save
_DISTINCT_SAMPLE = 10_000  # values sampled to decide whether to scan distinct values only


_CHECKSUMS: dict[str, Callable[[str], bool]] = {"nhi": nhi_is_valid, "ird": ird_is_valid}


# --- the plan compiled from a contract -----------------------------------------------------


@dataclass(frozen=True)
class _Pattern:
    kind: str
    re2: str  # for pyarrow.compute: cell scope anchored to the whole value
    python: re.Pattern[str]
    scope: str
    checksum: Callable[[str], bool] | None
    normalise: str | None


@dataclass(frozen=True)
class _Scan:
    """The value patterns that apply to one column, and the combined RE2 prefilters."""

    patterns: tuple[_Pattern, ...]
    raw_prefilter: str | None  # every pattern, on the values as they are
    normalised: tuple[tuple[str, str], ...]  # (normaliser's RE2, prefilter of its patterns)


def _compile(
    fi: ForbiddenIdentifier, pattern: str, scope: str, where: str
) -> tuple[str, re.Pattern[str]]:
    re2 = f"^(?:{pattern})$" if scope == "cell" else pattern
    try:
        pc.match_substring_regex(pa.array([""], pa.large_string()), re2)
        # ASCII: RE2's \d, \b and \s are ASCII, so the two engines agree.
        python = re.compile(pattern, re.ASCII)
    except (pa.ArrowInvalid, re.error) as exc:
        raise ContractError(
            f"{where}: pattern {pattern!r} of {fi.kind!r} does not compile in RE2 and Python: {exc}"
        ) from None
    return re2, python


@functools.lru_cache(maxsize=32)
def _scan_plan(forbidden: tuple[ForbiddenIdentifier, ...], exempt_kinds: frozenset[str]) -> _Scan:
    patterns = []
    for fi in forbidden:
        if fi.kind in exempt_kinds:
            continue
        for vp in fi.value_patterns:
            where = f"forbiddenIdentifiers {fi.kind!r}"
            if vp.scope not in _SCOPES:
                raise ContractError(f"{where}: scope must be one of {_SCOPES}, got {vp.scope!r}")
            if vp.checksum is not None and vp.checksum not in _CHECKSUMS:
                raise ContractError(
                    f"{where}: unknown checksum {vp.checksum!r}; known: {sorted(_CHECKSUMS)}"
                )
            if vp.normalise is not None and vp.normalise not in _NORMALISERS:
                raise ContractError(
                    f"{where}: unknown normaliser {vp.normalise!r}; known: {sorted(_NORMALISERS)}"
                )
            re2, python = _compile(fi, vp.pattern, vp.scope, where)
            checksum = _CHECKSUMS[vp.checksum] if vp.checksum else None
            patterns.append(_Pattern(fi.kind, re2, python, vp.scope, checksum, vp.normalise))
    # Every pattern also runs on the raw values: for text of letters and digits only,
    # which no normaliser changes, that is the whole test.
    raw = "|".join(f"(?:{p.re2})" for p in patterns) or None
    normalised = tuple(
        (_NORMALISERS[name], "|".join(f"(?:{p.re2})" for p in patterns if p.normalise == name))
        for name in sorted({p.normalise for p in patterns if p.normalise})
    )
    return _Scan(tuple(patterns), raw, normalised)


@functools.lru_cache(maxsize=32)
def _name_plan(
    forbidden: tuple[ForbiddenIdentifier, ...],
) -> tuple[tuple[str, frozenset[str], tuple[re.Pattern[str], ...]], ...]:
    plan = []
    for fi in forbidden:
        try:
            patterns = tuple(re.compile(p) for p in fi.column_patterns)
        except re.error as exc:
            raise ContractError(
                f"forbiddenIdentifiers {fi.kind!r}: a columnPattern does not compile: {exc}"
            ) from None
        plan.append((fi.kind, frozenset(fi.column_names), patterns))
    return tuple(plan)


def _kinds_named(forbidden: tuple[ForbiddenIdentifier, ...], column: str) -> list[str]:
    """The kinds of identifier a column's (normalised) name gives away."""
    return [
        kind
        for kind, names, patterns in _name_plan(forbidden)
        if column in names or any(p.search(column) for p in patterns)
    ]


# --- scanning a column -----------------------------------------------------------------------


def _text_array(series: pd.Series) -> pa.Array:
    try:
        array = pa.array(series, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a stray non-text cell: read it as text
        texts = [None if pd.isna(v) else str(v) for v in series.to_numpy(dtype=object)]
        array = pa.array(texts, type=pa.large_string())
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _accepted(column: Column | None) -> list[str]:
    """Values that cannot be identifiers: the column's enum values, aliases, boolean spellings."""
    if column is None:
        return []
    return [
        *column.accepted_values,
        *column.aliases,
        *column.true_spellings,
        *column.false_spellings,
    ]


def _mask_accepted(
    values: pa.Array, positions: np.ndarray, accepted: list[str]
) -> tuple[pa.Array, np.ndarray]:
    keep = pc.invert(pc.is_in(values, value_set=pa.array(accepted, pa.large_string())))
    values, positions = values.filter(keep), positions[keep.to_numpy(zero_copy_only=False)]
    if len(values):  # what is left may be a known value in another case ("AUCKLAND")
        lower = pa.array(sorted({a.lower() for a in accepted}), pa.large_string())
        keep = pc.invert(pc.is_in(pc.utf8_lower(values), value_set=lower))
        values, positions = values.filter(keep), positions[keep.to_numpy(zero_copy_only=False)]
    return values, positions


def _few_distinct(values: pa.Array) -> bool:
    if len(values) < _DISTINCT_SAMPLE:
        return False
    sample = values.take(np.linspace(0, len(values) - 1, _DISTINCT_SAMPLE).astype(np.int64))
    return len(pc.unique(sample)) <= _DISTINCT_SAMPLE // 2


def _matches(texts: pa.Array, scan: _Scan) -> dict[str, np.ndarray]:
    """Indices into ``texts`` whose text matches, per kind (checksums applied)."""
    assert scan.raw_prefilter is not None
    candidate = pc.match_substring_regex(texts, scan.raw_prefilter).to_numpy(zero_copy_only=False)
    if scan.normalised:
        punctuated = np.flatnonzero(~pc.utf8_is_alnum(texts).to_numpy(zero_copy_only=False))
        for strip, prefilter in scan.normalised:
            if punctuated.size:
                stripped = pc.replace_substring_regex(texts.take(punctuated), strip, "")
                candidate[punctuated] |= pc.match_substring_regex(stripped, prefilter).to_numpy(
                    zero_copy_only=False
                )
    where = np.flatnonzero(candidate)
    if not where.size:
        return {}
    raw = texts.take(where)
    found: dict[str, set[int]] = {}
    for pattern in scan.patterns:
        target = raw
        if pattern.normalise:
            target = pc.replace_substring_regex(raw, _NORMALISERS[pattern.normalise], "")
        hit = np.flatnonzero(
            pc.match_substring_regex(target, pattern.re2).to_numpy(zero_copy_only=False)
        )
        if pattern.checksum is not None and hit.size:
            hit = hit[[_passes(pattern, t) for t in target.take(hit).to_pylist()]]
        found.setdefault(pattern.kind, set()).update(where[hit].tolist())
    return {kind: np.array(sorted(idx), dtype=np.int64) for kind, idx in found.items() if idx}


def _passes(pattern: _Pattern, text: str) -> bool:
    assert pattern.checksum is not None
    if pattern.scope == "cell":
        return pattern.python.fullmatch(text) is not None and pattern.checksum(text)
    return any(pattern.checksum(m.group(0)) for m in pattern.python.finditer(text))


def _scan_column(series: pd.Series, column: Column | None, scan: _Scan) -> dict[str, np.ndarray]:
    """Frame positions of the rows whose value matches, per kind."""
    values = _text_array(series)
    valid = pc.is_valid(values)
    values, positions = values.filter(valid), np.flatnonzero(valid.to_numpy(zero_copy_only=False))
    if accepted := _accepted(column):
        values, positions = _mask_accepted(values, positions, accepted)
    if not len(values) or scan.raw_prefilter is None:
        return {}
    if not _few_distinct(values):
        return {kind: positions[idx] for kind, idx in _matches(values, scan).items()}
    encoded = pc.dictionary_encode(values)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    found = {}
    for kind, idx in _matches(encoded.dictionary, scan).items():
        hit = np.zeros(len(encoded.dictionary), dtype=bool)
        hit[idx] = True
        found[kind] = positions[hit[codes]]
    return found


# --- the public entry point ------------------------------------------------------------------


def find_direct_identifiers(frame: pd.DataFrame, contract: Contract) -> list[IdentifierFinding]:
    """Every column of ``frame`` named for, or holding, a direct identifier the contract forbids.

    ``frame`` holds text cells (or nulls) under normalised column names, the row
    number in ``_row`` and, at the hub's batch check, the submission in
    ``_submission``; other columns starting with ``_`` are ignored. Every other
    column is checked, whether or not the contract has it. A column of the
    contract is never refused for its name (``client_id`` is not a name), only
    for its values. In batch mode a name finding is reported for the
    submissions that have a value in that column, since a column that only
    another submission brought is empty for the rest.
    """
    if _ROW not in frame.columns:
        raise ValueError(f"the frame needs a {_ROW!r} column of row numbers")
    forbidden = contract.forbidden_identifiers
    labels = {fi.kind: fi.label for fi in forbidden}
    columns = [str(c) for c in frame.columns if not str(c).startswith("_")]
    contract_columns = set(contract.column_names)
    by_name = {c: [] if c in contract_columns else _kinds_named(forbidden, c) for c in columns}
    scans = {
        c: _scan_plan(forbidden, frozenset(fi.kind for fi in forbidden if c in fi.exempt_columns))
        for c in columns
    }

    def scan(name: str) -> dict[str, np.ndarray]:
        column = contract.column(name) if contract.has_column(name) else None
        return _scan_column(frame[name], column, scans[name])

    if len(frame) >= _PARALLEL_ROWS and len(columns) > 1:
        # pyarrow's kernels release the GIL, so columns scan side by side.
        with ThreadPoolExecutor(max_workers=min(len(columns), os.cpu_count() or 1)) as pool:
            by_value = dict(zip(columns, pool.map(scan, columns), strict=True))
    else:
        by_value = {c: scan(c) for c in columns}

    rows = frame[_ROW].to_numpy()
    submissions = (
        frame[_SUBMISSION].to_numpy(dtype=object) if _SUBMISSION in frame.columns else None
    )
    findings: list[IdentifierFinding] = []
    for column in columns:
        if by_name[column]:
            present = _submissions_with_values(frame[column], submissions)
            findings += [
                IdentifierFinding(column, kind, labels[kind], "name", 0, (), sub)
                for kind in by_name[column]
                for sub in present
            ]
        for kind, positions in by_value[column].items():
            for sub, group in _by_submission(positions, submissions):
                listed = np.sort(rows[group])
                findings.append(
                    IdentifierFinding(
                        column,
                        kind,
                        labels[kind],
                        "value",
                        int(group.size),
                        tuple(int(r) for r in listed[:MAX_ROWS_LISTED]),
                        sub,
                    )
                )
    return sorted(
        findings,
        key=lambda f: (f.submission is not None, f.submission or "", f.column, f.kind, f.how),
    )


def _submission_of(value: object) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _submissions_with_values(
    series: pd.Series, submissions: np.ndarray | None
) -> Iterable[str | None]:
    if submissions is None:
        return [None]
    present = submissions[series.notna().to_numpy()]
    return sorted({_submission_of(s) for s in present}, key=lambda s: (s is not None, s or ""))


def _by_submission(
    positions: np.ndarray, submissions: np.ndarray | None
) -> Iterable[tuple[str | None, np.ndarray]]:
    if submissions is None:
        return [(None, positions)]
    codes, uniques = pd.factorize(submissions[positions])  # NA gets code -1
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], ordered.size]
    return [
        (None if ordered[s] < 0 else _submission_of(uniques[ordered[s]]), positions[order[s:e]])
        for s, e in zip(starts, ends, strict=True)
    ]
