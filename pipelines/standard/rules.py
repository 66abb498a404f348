"""Every rule a contract states, as one flat list with stable ids and plain words.

The Great Expectations suite and the SQL re-checks are both generated from this
list, and the validation report explains failures with its words, so an NGO
coordinator reads the same rule whichever engine found the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from pipelines.standard.contract import Column, Contract

RuleKind = Literal[
    "has_rows",
    "has_column",
    "required",
    "integer",
    "date",
    "boolean",
    "max_length",
    "pattern",
    "accepted_values",
    "range",
    "unique",
    "expectation",
    "relationship",
]
"""What a rule checks. Each engine maps every kind to its check in a table keyed by this type."""

KINDS: tuple[RuleKind, ...] = get_args(RuleKind)
"""Rule kinds, in the order a coordinator should fix them."""


@dataclass(frozen=True)
class Rule:
    """One checkable statement of the contract."""

    id: str
    kind: RuleKind
    columns: tuple[str, ...]
    description: str
    fix: str
    params: Mapping[str, Any] = field(default_factory=dict)


def _values_text(column: Column) -> str:
    values = ", ".join(column.accepted_values)
    aliases = column.aliases
    if aliases:
        values += " (also accepted: " + ", ".join(sorted(aliases)) + ")"
    return values


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _column_rules(column: Column) -> list[Rule]:
    c = column.name
    rules = [
        Rule(
            f"{c}.present",
            "has_column",
            (c,),
            f"the file has a {c} column" + ("" if column.required else " (it may be empty)"),
            f"Add a column headed {c}." if column.required else "",
            {"required": column.required},
        )
    ]
    if column.required:
        rules.append(
            Rule(
                f"{c}.required",
                "required",
                (c,),
                f"{c} is filled in on every row",
                f"Fill in {c} on every row; it is required.",
            )
        )
    if column.logical_type == "integer":
        rules.append(
            Rule(
                f"{c}.integer",
                "integer",
                (c,),
                f"{c} is a whole number",
                f"Write {c} as a whole number, without decimals, units or text.",
            )
        )
        if column.minimum is not None or column.maximum is not None:
            lo, hi = _number(column.minimum), _number(column.maximum)
            rules.append(
                Rule(
                    f"{c}.range",
                    "range",
                    (c,),
                    f"{c} is between {lo} and {hi}",
                    f"Correct {c} so it lies between {lo} and {hi}.",
                    {"min": column.minimum, "max": column.maximum},
                )
            )
    elif column.logical_type == "date":
        rules.append(
            Rule(
                f"{c}.date",
                "date",
                (c,),
                f"{c} is a real date written YYYY-MM-DD",
                f"Write {c} like 2026-07-15 (year, month, day).",
                {"strftime": "%Y-%m-%d"},
            )
        )
    elif column.logical_type == "boolean":
        spellings = column.true_spellings + column.false_spellings
        default = "" if column.default is None else f"; empty means {str(column.default).lower()}"
        rules.append(
            Rule(
                f"{c}.boolean",
                "boolean",
                (c,),
                f"{c} is true or false ({', '.join(spellings)}){default}",
                f"Write {c} as true or false.",
                {"spellings": spellings},
            )
        )
    if column.max_length is not None:
        rules.append(
            Rule(
                f"{c}.max_length",
                "max_length",
                (c,),
                f"{c} is at most {column.max_length} characters",
                f"Shorten {c} to {column.max_length} characters or fewer.",
                {"max": column.max_length},
            )
        )
    if column.pattern is not None:
        rules.append(
            Rule(
                f"{c}.pattern",
                "pattern",
                (c,),
                f"{c} matches {column.pattern}",
                f"Correct {c} to match {column.pattern}.",
                {"regex": column.pattern},
            )
        )
    if column.enum:
        rules.append(
            Rule(
                f"{c}.accepted_values",
                "accepted_values",
                (c,),
                f"{c} is one of the accepted values",
                f"Use one of: {_values_text(column)}.",
                {"values": column.accepted_values},
            )
        )
    if column.unique:
        rules.append(
            Rule(
                f"{c}.unique",
                "unique",
                (c,),
                f"each {c} appears on one row only",
                f"Correct or remove the rows whose {c} repeats another row's.",
            )
        )
    return rules


PSEUDONYM_PATTERN = r"^[0-9a-f]{32}$"


def contract_rules(contract: Contract, sanitised: bool = False) -> tuple[Rule, ...]:
    """All rules of a contract, in the order a coordinator should fix them.

    ``sanitised`` adds the rules a file must meet after it left the NGO: its
    references are pseudonyms (the hub never accepts raw references).
    """
    rules = [
        Rule(
            "file.has_rows",
            "has_rows",
            (),
            "the file has at least one data row under its header",
            "Export the extract again with its rows; a file with only a header holds no data.",
        )
    ]
    for column in contract.columns:
        rules.extend(_column_rules(column))
    if sanitised:
        for name in contract.pseudonymised_columns:
            rules.append(
                Rule(
                    f"{name}.pseudonymised",
                    "pattern",
                    (name,),
                    f"{name} is a pseudonym made by the NGO's submission tool",
                    "Submit extracts with `outcomes submit`, which pseudonymises them; "
                    "the hub never accepts raw references.",
                    {"regex": PSEUDONYM_PATTERN},
                )
            )
    for tr in contract.table_rules:
        columns = tuple(
            v
            for k, v in sorted(tr.kwargs.items())
            if k in ("column", "column_A", "column_B") and not str(v).startswith("_")
        ) + tuple(c for c in tr.kwargs.get("column_list", ()))
        rules.append(
            Rule(
                tr.id,
                "expectation",
                columns,
                tr.name,
                tr.description,
                {"type": tr.expectation_type, "kwargs": dict(tr.kwargs)},
            )
        )
    for rel in contract.relationships:
        rules.append(
            Rule(
                rel.id,
                "relationship",
                rel.columns,
                f"({', '.join(rel.columns)}) exists in the accepted {rel.to_dataset} for the period",
                rel.description,
                {"to_dataset": rel.to_dataset, "to_columns": rel.to_columns},
            )
        )
    order = {k: i for i, k in enumerate(KINDS)}
    return tuple(sorted(rules, key=lambda r: order[r.kind]))


def rule_by_id(contract: Contract, sanitised: bool = False) -> dict[str, Rule]:
    return {r.id: r for r in contract_rules(contract, sanitised)}
