"""Turn a contract's rules into a Great Expectations suite.

Each expectation carries the id of the rule it came from in ``meta["rule"]``,
so a result can always be traced back to the contract, and a test can prove
that no rule was lost on the way (Great Expectations drops configurations it
cannot use without saying so).

The suite runs on a *prepared* frame (see :mod:`pipelines.validation.prepare`):
text columns as submitted, ``<column>__value`` typed shadows of integer and date
columns, the context columns (``_period_end`` …) and ``_row``; in batch mode
also ``_submission``, so that rules that hold "within a submission" (unique
episode ids) stay per submission when many are validated in one frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipelines.standard.contract import Contract
from pipelines.standard.rules import Rule, RuleKind, contract_rules
from pipelines.validation.findings import (
    SUBMISSION,
    date_ok_column,
    relationship_column,
    value_column,
)
from pipelines.validation.gx_import import great_expectations

great_expectations()  # first, so that what Great Expectations never uses here loads lazily

import great_expectations.expectations as gxe  # noqa: E402

INTEGER_TEXT = r"^[+-]?\d+$"
ISO_DATE_TEXT = r"^\d{4}-\d{2}-\d{2}$"


def _typed(contract: Contract, name: str) -> bool:
    if name.startswith("_"):
        return False
    return contract.has_column(name) and contract.column(name).logical_type in ("integer", "date")


def _map_columns(contract: Contract, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Point comparisons of typed columns at their typed shadows."""
    mapped = dict(kwargs)
    for key in ("column_A", "column_B"):
        if key in mapped and _typed(contract, mapped[key]):
            mapped[key] = value_column(mapped[key])
    if isinstance(mapped.get("row_condition"), dict):
        from great_expectations.expectations.row_conditions import deserialize_row_condition

        mapped["row_condition"] = deserialize_row_condition(mapped["row_condition"])
    return mapped


Expectations = Callable[[Rule, Contract, bool], list[gxe.Expectation]]
"""A rule kind's expectations for a rule of a contract (``batch``: many submissions per frame)."""


def _meta(rule: Rule) -> dict[str, str]:
    return {"rule": rule.id}


def _column(rule: Rule) -> str:
    return rule.columns[0] if rule.columns else ""


def _date(rule: Rule, _contract: Contract, _batch: bool) -> list[gxe.Expectation]:
    # Format by pattern; calendar validity (no 30 February) by a flag that the parsed shadow
    # is set wherever the text is: vectorised, and no row filter over the whole frame.
    c = _column(rule)
    return [
        gxe.ExpectColumnValuesToMatchRegex(column=c, regex=ISO_DATE_TEXT, meta=_meta(rule)),
        gxe.ExpectColumnValuesToBeInSet(
            column=date_ok_column(c), value_set=[True], meta=_meta(rule)
        ),
    ]


def _in_set(key: str) -> Expectations:
    def build(rule: Rule, _contract: Contract, _batch: bool) -> list[gxe.Expectation]:
        return [
            gxe.ExpectColumnValuesToBeInSet(
                column=_column(rule), value_set=list(rule.params[key]), meta=_meta(rule)
            )
        ]

    return build


def _unique(rule: Rule, _contract: Contract, batch: bool) -> list[gxe.Expectation]:
    if batch:
        return [
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=[SUBMISSION, _column(rule)], meta=_meta(rule)
            )
        ]
    return [gxe.ExpectColumnValuesToBeUnique(column=_column(rule), meta=_meta(rule))]


def _expectation(rule: Rule, contract: Contract, batch: bool) -> list[gxe.Expectation]:
    kwargs = _map_columns(contract, dict(rule.params["kwargs"]))
    if batch and "column_list" in kwargs:
        kwargs["column_list"] = [SUBMISSION, *kwargs["column_list"]]
    cls = _expectation_class(rule.params["type"])
    return [cls(**kwargs, meta=_meta(rule))]


EXPECTATIONS_BY_KIND: dict[RuleKind, Expectations] = {
    "has_rows": lambda r, _c, _b: [gxe.ExpectTableRowCountToBeBetween(min_value=1, meta=_meta(r))],
    "has_column": lambda r, _c, _b: [gxe.ExpectColumnToExist(column=_column(r), meta=_meta(r))],
    "required": lambda r, _c, _b: [
        gxe.ExpectColumnValuesToNotBeNull(column=_column(r), meta=_meta(r))
    ],
    "integer": lambda r, _c, _b: [
        gxe.ExpectColumnValuesToMatchRegex(column=_column(r), regex=INTEGER_TEXT, meta=_meta(r))
    ],
    "date": _date,
    "boolean": _in_set("spellings"),
    "max_length": lambda r, _c, _b: [
        gxe.ExpectColumnValueLengthsToBeBetween(
            column=_column(r), min_value=0, max_value=r.params["max"], meta=_meta(r)
        )
    ],
    "pattern": lambda r, _c, _b: [
        gxe.ExpectColumnValuesToMatchRegex(
            column=_column(r), regex=r.params["regex"], meta=_meta(r)
        )
    ],
    "accepted_values": _in_set("values"),
    "range": lambda r, _c, _b: [
        gxe.ExpectColumnValuesToBeBetween(
            column=value_column(_column(r)),
            min_value=r.params["min"],
            max_value=r.params["max"],
            meta=_meta(r),
        )
    ],
    "unique": _unique,
    "expectation": _expectation,
    "relationship": lambda r, _c, _b: [
        gxe.ExpectColumnValuesToBeInSet(
            column=relationship_column(r.id), value_set=[True], meta=_meta(r)
        )
    ],
}
"""Each rule kind's Great Expectations, keyed by :data:`~pipelines.standard.rules.RuleKind`."""


def _expectation_class(snake_name: str) -> type[gxe.Expectation]:
    camel = "".join(part.capitalize() for part in snake_name.split("_"))
    cls = getattr(gxe, camel, None)
    if not (isinstance(cls, type) and issubclass(cls, gxe.Expectation)):
        raise ValueError(f"contract names an unknown Great Expectations type {snake_name!r}")
    return cls


def checkable_rules(
    contract: Contract, present: frozenset[str], sanitised: bool = False
) -> tuple[Rule, ...]:
    """Rules that can run on a frame with these contract columns (a missing column is its own failure)."""
    rules = []
    for rule in contract_rules(contract, sanitised):
        if rule.kind == "has_column" or all(c in present for c in rule.columns):
            rules.append(rule)
    return tuple(rules)


def build_expectations(
    contract: Contract, present: frozenset[str], batch: bool, sanitised: bool = False
) -> list[gxe.Expectation]:
    """The expectations for every rule that can be checked on a frame with ``present`` columns."""
    expectations: list[gxe.Expectation] = []
    for rule in checkable_rules(contract, present, sanitised):
        expectations.extend(EXPECTATIONS_BY_KIND[rule.kind](rule, contract, batch))
    return expectations
