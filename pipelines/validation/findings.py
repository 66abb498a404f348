"""What validation finds, and the columns the validator adds: light, so that anything may import it.

A finding names a rule or a kind of identifier, its columns, a count and row
numbers. It never carries a value. Great Expectations is imported only where
a suite runs (``pipelines.validation.validate``), so reports, the command
line and the hub's bookkeeping stay fast to start.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.standard.rules import Rule

ROW = "_row"
"""The row number column: spreadsheet rows for CSV and XLSX (header = 1), data rows for Parquet."""
SUBMISSION = "_submission"
"""In batch mode, the submission each row belongs to."""
MAX_ROWS_LISTED = 1000
"""Row numbers kept per finding; its count is always exact."""


def value_column(name: str) -> str:
    """The typed shadow of an integer or date column."""
    return f"{name}__value"


def date_ok_column(name: str) -> str:
    """The flag column that says a date column's text, where there is any, is a real date."""
    return f"{name}__is_date"


def relationship_column(rule_id: str) -> str:
    """The flag column that says whether a row's relationship holds."""
    return "_rel_" + rule_id.replace("-", "_")


@dataclass(frozen=True)
class Finding:
    """One broken rule in one submission: which rows, never which values."""

    rule: str
    kind: str
    columns: tuple[str, ...]
    description: str
    fix: str
    count: int
    rows: tuple[int, ...] = ()
    submission: str | None = None


@dataclass(frozen=True)
class IdentifierFinding:
    """One column of one submission that holds (or is named for) one kind of direct identifier."""

    column: str
    kind: str
    label: str
    how: str  # "name": the column's name says it; "value": some of its values match
    count: int  # rows whose value matched (0 for a name match)
    rows: tuple[int, ...]  # their row numbers, ascending, at most MAX_ROWS_LISTED
    submission: str | None = None


def finding_for(
    rule: Rule, count: int, rows: tuple[int, ...] = (), submission: str | None = None
) -> Finding:
    return Finding(
        rule=rule.id,
        kind=rule.kind,
        columns=rule.columns,
        description=rule.description,
        fix=rule.fix,
        count=count,
        rows=tuple(sorted(rows))[:MAX_ROWS_LISTED],
        submission=submission,
    )
