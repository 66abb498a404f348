"""Prepare an extract's text frame for validation: the same steps on the NGO side and the hub.

Preparation never drops or changes a row. It maps the contract's accepted
aliases (``Manawatu-Whanganui`` becomes ``Manawatū-Whanganui``), lower-cases
boolean spellings, adds typed shadows (``sessions__value``) for range and date
rules, adds the context columns the contract's cross-column rules refer to
(``_period_end`` …), and adds missing optional columns as empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from pipelines.standard.contract import Contract
from pipelines.standard.periods import Period
from pipelines.validation.findings import (
    ROW,
    SUBMISSION,
    date_ok_column,
    relationship_column,
    value_column,
)


@dataclass(frozen=True)
class Context:
    """What the validator knows about a submission beyond its rows."""

    period: Period
    submitted_on: date
    submission: str | None = None

    def values(self) -> dict[str, date]:
        return {
            "_period_start": self.period.start,
            "_period_end": self.period.end,
            "_submitted_on": self.submitted_on,
        }


def contract_view(frame: pd.DataFrame, contract: Contract) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Keep contract columns (plus ``_``-columns), add missing optional ones; name the dropped ones."""
    names = set(contract.column_names)
    dropped = tuple(c for c in frame.columns if c not in names and not c.startswith("_"))
    view = frame.drop(columns=list(dropped))
    for column in contract.columns:
        if column.name not in view.columns and not column.required:
            view[column.name] = pd.Series([None] * len(view), index=view.index, dtype="str")
    return view, dropped


def parse_dates(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")


def parse_booleans(
    text: pd.Series,
    true_spellings: tuple[str, ...],
    false_spellings: tuple[str, ...],
    default: object,
) -> pd.Series:
    """Read accepted spellings as booleans; empty cells take the contract's default."""
    lowered = text.str.lower()
    result = pd.Series(pd.NA, index=text.index, dtype="boolean")
    result[lowered.isin(true_spellings)] = True
    result[lowered.isin(false_spellings)] = False
    if default is not None:
        result[text.isna()] = bool(default)
    return result


def prepare(
    frame: pd.DataFrame,
    contract: Contract,
    context: Context | Mapping[str, Context],
    relationships: Mapping[str, np.ndarray] | None = None,
    *,
    copy: bool = True,
) -> pd.DataFrame:
    """Return a frame ready for the contract's expectation suite (``copy=False``: the same frame,
    changed in place, which halves the memory a national batch needs).

    ``context`` is one submission's context, or (batch mode, the frame has a
    ``_submission`` column) a context per submission id. ``relationships``
    maps a relationship rule id to a boolean array (one per row) saying whether
    that row's reference exists; the caller computes it because only the caller
    knows which episodes are accepted.
    """
    out = frame.copy() if copy else frame
    for column in contract.columns:
        name = column.name
        if name not in out.columns:
            continue
        if column.aliases:
            out[name] = out[name].replace(column.aliases)
        if column.logical_type == "boolean":
            out[name] = out[name].str.lower()
        elif column.logical_type == "integer" and value_column(name) not in out.columns:
            out[value_column(name)] = pd.to_numeric(out[name], errors="coerce")
        elif column.logical_type == "date":
            # The hub reads typed payloads and passes their values in; text is parsed otherwise.
            if value_column(name) not in out.columns:
                out[value_column(name)] = parse_dates(out[name])
            out[date_ok_column(name)] = out[name].isna() | out[value_column(name)].notna()
    if isinstance(context, Context):
        for name, day in context.values().items():
            out[name] = pd.Series(pd.Timestamp(day), index=out.index).astype("datetime64[us]")
        if context.submission is not None:
            out[SUBMISSION] = context.submission
    else:
        per_submission = pd.DataFrame.from_dict(
            {sid: ctx.values() for sid, ctx in context.items()}, orient="index"
        ).astype("datetime64[us]")
        joined = per_submission.reindex(out[SUBMISSION].to_numpy())
        for name in per_submission.columns:
            out[name] = joined[name].to_numpy()
    for rule_id, flags in (relationships or {}).items():
        out[relationship_column(rule_id)] = pd.Series(flags, index=out.index, dtype=bool)
    if ROW not in out.columns:
        raise ValueError("the frame has no row numbers")
    return out
