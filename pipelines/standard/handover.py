"""The hand-over protocol: what one submission is when it crosses from an NGO to the hub.

Both zones import this module and neither owns it. A submission is a folder
(or an upload) of two files:

- ``data.parquet``: the sanitised rows, exactly :func:`arrow_schema` of its
  contract (contract columns, pseudonymised references, ``source_row``);
- ``manifest.json``: a versioned :class:`Manifest` naming the NGO, period,
  dataset, contract, row count and the payload's sha256.

The hub reads what an NGO sends only through :meth:`Manifest.parse`, which
bounds, decodes and validates it and says precisely what is wrong; it never
runs the NGO side's code to read a submission.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines.standard.contract import DATASETS, Contract
from pipelines.standard.limits import COLUMN_NAME_CHARACTERS, COLUMNS, MANIFEST_BYTES
from pipelines.standard.names import check_dataset, check_ngo_id, submission_id
from pipelines.standard.periods import Period

PAYLOAD = "data.parquet"
MANIFEST = "manifest.json"
RECEIPT = "receipt.json"
"""Written by the hub beside the two files it received: who sent them (the token's NGO) and when."""
MANIFEST_VERSION = 1
SOURCE_ROW = "source_row"

_ARROW_TYPES = {
    "integer": pa.int32(),
    "date": pa.date32(),
    "boolean": pa.bool_(),
    "string": pa.string(),
}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COLUMN = re.compile(r"^[a-z0-9_]+$")
_MAX_TEXT = 200


def arrow_schema(contract: Contract) -> pa.Schema:
    """The schema of a sanitised file: contract columns in contract order, then ``source_row``."""
    fields = [pa.field(c.name, _ARROW_TYPES[c.logical_type]) for c in contract.columns]
    return pa.schema([*fields, pa.field(SOURCE_ROW, pa.int32())])


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ManifestError(ValueError):
    """A manifest that cannot be trusted; ``field`` names what is wrong (never its value)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


_FIELD_CHECKS: tuple[tuple[str, Callable[[str], object], str], ...] = (
    ("ngo_id", check_ngo_id, "an NGO id: 3 to 40 lower-case letters, digits and hyphens"),
    ("dataset", check_dataset, "one of " + ", ".join(DATASETS)),
    ("period", Period.parse, "a quarter written YYYY-Qn, like 2026-Q3"),
)


def _text(doc: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = doc.get(key)
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
        raise ManifestError(
            key, f"the manifest's {key} must be text of 1 to {_MAX_TEXT} characters"
        )
    return value


def _names(doc: dict[str, Any], key: str) -> tuple[str, ...]:
    value = doc.get(key, [])
    most, longest = COLUMNS.value, COLUMN_NAME_CHARACTERS.value
    if (
        not isinstance(value, list)
        or len(value) > most
        or not all(isinstance(v, str) and len(v) <= longest and _COLUMN.fullmatch(v) for v in value)
    ):
        raise ManifestError(key, f"the manifest's {key} must list at most {most:,} column names")
    return tuple(value)


def _count(doc: dict[str, Any], key: str) -> int:
    value = doc.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= COLUMNS.value:
        raise ManifestError(key, f"the manifest's {key} must be a count of columns")
    return value


@dataclass(frozen=True)
class Manifest:
    """What an NGO says about the payload it sends. Valid on construction, or it raises."""

    ngo_id: str
    period: str
    dataset: str
    contract: str
    contract_version: str
    sha256: str
    rows: int
    submitted_on: date
    columns: tuple[str, ...] = ()
    dropped_columns: int = 0
    """How many columns of the NGO's file were left out; never their names, which the NGO's
    own report lists (a heading can hold anything, a client's name included)."""
    submitted_at: datetime | None = None
    tool: str = ""
    manifest_version: int = MANIFEST_VERSION
    submission_id: str = field(default="")

    def __post_init__(self) -> None:
        if self.manifest_version != MANIFEST_VERSION:
            raise ManifestError(
                "manifest_version",
                f"manifest version {self.manifest_version} is not one this hub reads "
                f"(it reads version {MANIFEST_VERSION}); update the NGO's outcome-hub tool",
            )
        # What is wrong, never the value: a manifest may carry anything a sender put there.
        for name, check, expected in _FIELD_CHECKS:
            try:
                check(getattr(self, name))
            except (ValueError, TypeError):
                raise ManifestError(name, f"the manifest's {name} must be {expected}") from None
        if not _SHA256.fullmatch(self.sha256):
            raise ManifestError("sha256", "the manifest's sha256 must be 64 lower-case hex digits")
        if isinstance(self.rows, bool) or not isinstance(self.rows, int) or self.rows < 0:
            raise ManifestError("rows", "the manifest's rows must be a whole number, 0 or more")
        expected = submission_id(self.period, self.ngo_id, self.dataset, self.sha256)
        if not self.submission_id:
            object.__setattr__(self, "submission_id", expected)
        elif self.submission_id != expected:
            raise ManifestError(
                "submission_id",
                "the manifest's submission_id does not match its period, NGO, dataset and sha256",
            )

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        """Decode and validate a manifest's bytes, or raise :class:`ManifestError`."""
        if len(data) > MANIFEST_BYTES.value:
            raise ManifestError("manifest", f"the manifest is over {MANIFEST_BYTES}")
        try:
            doc = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ManifestError("manifest", "the manifest is not JSON text in UTF-8") from None
        if not isinstance(doc, dict):
            raise ManifestError("manifest", "the manifest must be a JSON object")
        version = doc.get("manifest_version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise ManifestError("manifest_version", "the manifest has no manifest_version number")
        rows = doc.get("rows")
        return cls(
            ngo_id=_text(doc, "ngo_id"),
            period=_text(doc, "period"),
            dataset=_text(doc, "dataset"),
            contract=_text(doc, "contract"),
            contract_version=_text(doc, "contract_version"),
            sha256=_text(doc, "sha256"),
            rows=rows if isinstance(rows, int) else -1,
            submitted_on=_date(doc),
            columns=_names(doc, "columns"),
            dropped_columns=_count(doc, "dropped_columns"),
            submitted_at=_datetime(doc),
            tool=_text(doc, "tool", required=False),
            manifest_version=version,
            submission_id=_text(doc, "submission_id", required=False),
        )

    def to_json(self) -> bytes:
        doc = asdict(self)
        doc["columns"] = list(self.columns)
        doc["submitted_on"] = self.submitted_on.isoformat()
        # Microseconds: a correction can follow its original within the same second.
        doc["submitted_at"] = (
            self.submitted_at.isoformat(timespec="microseconds") if self.submitted_at else None
        )
        return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _date(doc: dict[str, Any]) -> date:
    try:
        return date.fromisoformat(_text(doc, "submitted_on"))
    except ValueError:
        raise ManifestError(
            "submitted_on", "the manifest's submitted_on must be a date written YYYY-MM-DD"
        ) from None


def _datetime(doc: dict[str, Any]) -> datetime | None:
    text = _text(doc, "submitted_at", required=False)
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ManifestError(
            "submitted_at", "the manifest's submitted_at must be an ISO 8601 time"
        ) from None
    if when.tzinfo is None:
        raise ManifestError("submitted_at", "the manifest's submitted_at must carry a time zone")
    return when
