"""The contract's rules as SQL over typed rows, independent of Great Expectations.

Used twice: by the hub's blocking check, which re-checks staged rows before
they become current (a second, independent implementation of every rule),
and by the benchmark's floor, which asks how fast plain DuckDB runs the same
checks. Row tables carry ``submission_id``, ``ngo_id`` and ``period``, so
"within a submission" rules and the period's dates are computed in SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from pipelines.standard.contract import Contract, Relationship
from pipelines.standard.rules import Rule, RuleKind, contract_rules

# Context columns, from the row's period and its submission's date.
_PERIOD_START = "make_date(CAST(substr(period, 1, 4) AS INTEGER), 3 * CAST(substr(period, 7, 1) AS INTEGER) - 2, 1)"
CONTEXT_SQL = {
    "_period_start": _PERIOD_START,
    "_period_end": f"CAST({_PERIOD_START} + INTERVAL 3 MONTH - INTERVAL 1 DAY AS DATE)",
    "_submitted_on": "submitted_on",
}


def _ident(name: str) -> str:
    return CONTEXT_SQL.get(name, '"' + name.replace('"', '""') + '"')


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _condition_sql(cond: dict[str, Any]) -> str:
    kind = cond.get("type")
    if kind == "nullity":
        return f"{_ident(cond['column']['name'])} IS {'' if cond['is_null'] else 'NOT '}NULL"
    if kind in ("and", "or"):
        joiner = f" {kind.upper()} "
        return "(" + joiner.join(_condition_sql(c) for c in cond["conditions"]) + ")"
    raise ValueError(f"row condition type {kind!r} has no SQL translation")


def _expectation_sql(rule: Rule) -> tuple[str, list[str] | None]:
    """(predicate for a bad row, or a window partition) for the expectation types contracts use."""
    kind = rule.params["type"]
    kw = rule.params["kwargs"]
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        op = "<" if kw.get("or_equal") else "<="
        a, b = _ident(kw["column_A"]), _ident(kw["column_B"])
        return f"({a} IS NOT NULL AND {b} IS NOT NULL AND {a} {op} {b})", None
    if kind == "expect_column_values_to_be_null":
        condition = kw.get("row_condition")
        where = f" AND {_condition_sql(condition)}" if condition else ""
        return f"({_ident(kw['column'])} IS NOT NULL{where})", None
    if kind == "expect_compound_columns_to_be_unique":
        return "", list(kw["column_list"])
    raise ValueError(f"rule {rule.id}: expectation type {kind!r} has no SQL translation")


@dataclass(frozen=True)
class SqlRule:
    rule: str
    predicate: str = ""  # a bad row, as a boolean expression
    unique_over: tuple[str, ...] = ()  # or: these columns repeat within a submission


def _column(rule: Rule) -> str:
    return _ident(rule.columns[0])


def _expectation(rule: Rule) -> SqlRule:
    predicate, unique = _expectation_sql(rule)
    return SqlRule(rule.id, predicate, tuple(unique or ()))


_NOT_IN_SQL = None
"""Kinds a typed row table guarantees by construction (a DATE is a real date, the column
exists), or that are checked elsewhere (rows per file; relationships by :func:`count_orphans`)."""

SQL_BY_KIND: dict[RuleKind, Callable[[Rule], SqlRule] | None] = {
    "has_rows": _NOT_IN_SQL,
    "has_column": _NOT_IN_SQL,
    "required": lambda r: SqlRule(r.id, f"{_column(r)} IS NULL"),
    "integer": _NOT_IN_SQL,
    "date": _NOT_IN_SQL,
    "boolean": _NOT_IN_SQL,
    "max_length": lambda r: SqlRule(r.id, f"length({_column(r)}) > {int(r.params['max'])}"),
    "pattern": lambda r: SqlRule(
        r.id, f"NOT regexp_full_match({_column(r)}, {_literal(r.params['regex'])})"
    ),
    "accepted_values": lambda r: SqlRule(
        r.id, f"{_column(r)} NOT IN ({', '.join(_literal(v) for v in r.params['values'])})"
    ),
    "range": lambda r: SqlRule(
        r.id,
        f"({_column(r)} < {_literal(r.params['min'])} OR {_column(r)} > {_literal(r.params['max'])})",
    ),
    "unique": lambda r: SqlRule(r.id, unique_over=(r.columns[0],)),
    "expectation": _expectation,
    "relationship": _NOT_IN_SQL,
}
"""Each rule kind's SQL, or None where SQL over typed rows has nothing to check."""


def sql_rules(contract: Contract, sanitised: bool = True) -> list[SqlRule]:
    """Every row-level rule of the contract as SQL; relationships are checked separately."""
    out = []
    for rule in contract_rules(contract, sanitised):
        translate = SQL_BY_KIND[rule.kind]
        if translate is not None:
            out.append(translate(rule))
    return out


def count_violations(
    con: duckdb.DuckDBPyConnection, contract: Contract, relation: str
) -> dict[str, int]:
    """Rows breaking each rule in ``relation`` (which must carry submission_id, period, submitted_on)."""
    rules = sql_rules(contract)
    plain = [r for r in rules if r.predicate]
    counts: dict[str, int] = {}
    if plain:
        select = ", ".join(f"count_if(coalesce({r.predicate}, FALSE))" for r in plain)
        row = con.execute(f"SELECT {select} FROM {relation}").fetchone() or ()
        counts.update({r.rule: int(v or 0) for r, v in zip(plain, row, strict=True)})
    for r in rules:
        if r.unique_over:
            cols = ", ".join(_ident(c) for c in r.unique_over)
            repeated = con.execute(
                f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {relation} "
                f"GROUP BY submission_id, {cols} HAVING count(*) > 1)"
            ).fetchone()
            counts[r.rule] = int(repeated[0]) if repeated else 0
    return counts


def count_orphans(
    con: duckdb.DuckDBPyConnection, contract: Contract, relation: str, known: str
) -> dict[str, int]:
    """Rows whose relationship does not hold against ``known`` (a relation of the target dataset)."""
    counts = {}
    for rel in contract.relationships:
        row = con.execute(
            f"SELECT count(*) FROM {relation} r ANTI JOIN {known} k ON {reference_holds(rel)}"
        ).fetchone()
        counts[rel.id] = int(row[0]) if row else 0
    return counts


def reference_holds(rel: Relationship, row: str = "r", known: str = "k") -> str:
    """The join condition under which row ``row``'s reference finds its target row ``known``:
    the same NGO and period, and the same values in the related columns."""
    pairs = zip(rel.columns, rel.to_columns, strict=True)
    return " AND ".join(
        [f"{row}.ngo_id = {known}.ngo_id", f"{row}.period = {known}.period"]
        + [f'{row}."{a}" = {known}."{b}"' for a, b in pairs]
    )
