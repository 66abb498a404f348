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

from typing import Any

from pipelines.standard.contract import Contract
from pipelines.standard.rules import Rule, contract_rules
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


def _expectations_for(rule: Rule, contract: Contract, batch: bool) -> list[gxe.Expectation]:
    meta = {"rule": rule.id}
    column = rule.columns[0] if rule.columns else ""
    kind = rule.kind
    if kind == "has_rows":
        return [gxe.ExpectTableRowCountToBeBetween(min_value=1, meta=meta)]
    if kind == "has_column":
        return [gxe.ExpectColumnToExist(column=column, meta=meta)]
    if kind == "required":
        return [gxe.ExpectColumnValuesToNotBeNull(column=column, meta=meta)]
    if kind == "integer":
        return [gxe.ExpectColumnValuesToMatchRegex(column=column, regex=INTEGER_TEXT, meta=meta)]
    if kind == "date":
        # Format by pattern; calendar validity (no 30 February) by a flag that the parsed shadow
        # is set wherever the text is: vectorised, and no row filter over the whole frame.
        return [
            gxe.ExpectColumnValuesToMatchRegex(column=column, regex=ISO_DATE_TEXT, meta=meta),
            gxe.ExpectColumnValuesToBeInSet(
                column=date_ok_column(column), value_set=[True], meta=meta
            ),
        ]
    if kind in ("boolean", "accepted_values"):
        values = rule.params["spellings"] if kind == "boolean" else rule.params["values"]
        return [gxe.ExpectColumnValuesToBeInSet(column=column, value_set=list(values), meta=meta)]
    if kind == "max_length":
        return [
            gxe.ExpectColumnValueLengthsToBeBetween(
                column=column, min_value=0, max_value=rule.params["max"], meta=meta
            )
        ]
    if kind == "pattern":
        return [
            gxe.ExpectColumnValuesToMatchRegex(column=column, regex=rule.params["regex"], meta=meta)
        ]
    if kind == "range":
        return [
            gxe.ExpectColumnValuesToBeBetween(
                column=value_column(column),
                min_value=rule.params["min"],
                max_value=rule.params["max"],
                meta=meta,
            )
        ]
    if kind == "unique":
        if batch:
            return [
                gxe.ExpectCompoundColumnsToBeUnique(column_list=[SUBMISSION, column], meta=meta)
            ]
        return [gxe.ExpectColumnValuesToBeUnique(column=column, meta=meta)]
    if kind == "expectation":
        kwargs = _map_columns(contract, dict(rule.params["kwargs"]))
        if batch and "column_list" in kwargs:
            kwargs["column_list"] = [SUBMISSION, *kwargs["column_list"]]
        cls = _expectation_class(rule.params["type"])
        return [cls(**kwargs, meta=meta)]
    if kind == "relationship":
        return [
            gxe.ExpectColumnValuesToBeInSet(
                column=relationship_column(rule.id), value_set=[True], meta=meta
            )
        ]
    raise ValueError(f"rule {rule.id}: no expectation for rule kind {kind!r}")


def _expectation_class(snake_name: str) -> type[gxe.Expectation]:
    camel = "".join(part.capitalize() for part in snake_name.split("_"))
    cls = getattr(gxe, camel, None)
    if cls is None:
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
        expectations.extend(_expectations_for(rule, contract, batch))
    return expectations
