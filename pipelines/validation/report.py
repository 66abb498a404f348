"""Validation reports for the people who must fix the file: ``report.json`` and ``report.html``.

A report names columns, rules, counts and row numbers, and says what to do.
It never contains a cell value: not of identifier columns, not of anything
that looked like a direct identifier, not of anything else.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from pipelines.validation.findings import Finding, IdentifierFinding

REPORT_VERSION = 1
ROW_NUMBERING = {
    "spreadsheet": "Row numbers are spreadsheet rows: the header is row 1, the first data row is row 2.",
    "data": "Row numbers count data rows from 1.",
}


@dataclass(frozen=True)
class Report:
    """Everything a coordinator needs to know about one validation, and nothing from the rows."""

    status: str  # "accepted" or "refused"
    stage: str  # "ngo" (before the file leaves the NGO) or "hub" (re-validation on arrival)
    ngo_id: str
    period: str
    dataset: str
    contract: str
    file: str
    file_format: str
    row_numbering: str
    rows: int
    blank_rows_skipped: int = 0
    failures: tuple[Finding, ...] = ()
    identifiers: tuple[IdentifierFinding, ...] = ()
    dropped_columns: tuple[str, ...] = ()
    submission_id: str | None = None
    validated_at: str = field(
        default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds")
    )
    note: str = ""

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    @property
    def headline(self) -> str:
        what = f"{self.dataset} extract for {self.ngo_id}, {self.period}"
        if self.accepted:
            return f"Accepted: {what} ({self.rows_text})."
        problems = len(self.failures) + len(self.identifiers)
        return f"Refused: {what}. {problems} problem(s) to fix; nothing was kept."

    @property
    def rows_text(self) -> str:
        """``166 rows`` or ``166 rows; 3 blank rows skipped``: every row of the file accounted for."""
        if not self.blank_rows_skipped:
            return f"{self.rows:,} rows"
        blank = self.blank_rows_skipped
        return f"{self.rows:,} rows; {blank:,} blank row{'s' if blank != 1 else ''} skipped"

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["report_version"] = REPORT_VERSION
        body["headline"] = self.headline
        body["row_numbering"] = ROW_NUMBERING.get(self.row_numbering, self.row_numbering)
        return body


_env = Environment(
    loader=PackageLoader("pipelines.validation", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def write_report(report: Report, folder: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path, html_path = folder / "report.json", folder / "report.html"
    body = report.to_json()
    _atomic_write(json_path, json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    html = _env.get_template("report.html.j2").render(report=report, body=body)
    _atomic_write(html_path, html)
    return json_path, html_path


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def rows_text(rows: tuple[int, ...], count: int, limit: int = 12) -> str:
    """``rows 2, 5, 9 and 40 more`` — short enough for a terminal line."""
    if not rows:
        return ""
    shown = ", ".join(str(r) for r in rows[:limit])
    more = count - min(len(rows), limit)
    return f"row{'s' if count > 1 else ''} {shown}" + (f" and {more:,} more" if more > 0 else "")
