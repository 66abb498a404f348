"""The hub's inbox: complete submissions waiting for intake, and their manifests.

The hub trusts nothing the sender says: a manifest's names are re-checked
before they touch a path, its hash is recomputed, and the payload's schema
must be exactly the sanitised schema the contract implies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.home import Home
from pipelines.ngo.handover import MANIFEST, PAYLOAD, arrow_schema, file_sha256
from pipelines.standard.contract import load_contract
from pipelines.standard.names import check_dataset, check_ngo_id, check_submission_id, submission_id
from pipelines.standard.periods import Period

DATASET_ORDER = {"episodes": 0, "assessments": 1}


class InboxError(Exception):
    """A submission in the inbox is not what its manifest says. ``rule`` names the check."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class InboxItem:
    """One complete submission in the inbox."""

    submission_id: str
    folder: Path
    manifest: Mapping[str, Any]

    @property
    def payload(self) -> Path:
        return self.folder / PAYLOAD

    @property
    def ngo_id(self) -> str:
        return str(self.manifest.get("ngo_id", ""))

    @property
    def period(self) -> str:
        return str(self.manifest.get("period", ""))

    @property
    def dataset(self) -> str:
        return str(self.manifest.get("dataset", ""))

    @property
    def sha256(self) -> str:
        return str(self.manifest.get("sha256", ""))

    @property
    def rows(self) -> int:
        """The row count the manifest declares (0 when it declares none that makes sense)."""
        value = self.manifest.get("rows", 0)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def submitted_on(self) -> date:
        return date.fromisoformat(str(self.manifest["submitted_on"]))


def pending(home: Home) -> list[tuple[int, str]]:
    """(arrival mark, submission id) of every complete folder in the inbox, oldest first.

    The mark is the folder's modification time in nanoseconds: the hand-over
    renames a finished folder into place, so it is when the submission arrived.
    """
    if not home.inbox.is_dir():
        return []
    found = []
    for folder in home.inbox.iterdir():
        if folder.name.startswith(".") or not (folder / MANIFEST).is_file():
            continue
        try:
            check_submission_id(folder.name)
        except ValueError:
            continue  # not ours; never act on a name we did not make
        found.append((folder.stat().st_mtime_ns, folder.name))
    return sorted(found)


def pending_ids(home: Home) -> list[str]:
    """Submission ids with a complete folder in the inbox, in arrival order."""
    return [name for _, name in pending(home)]


def load_item(home: Home, sid: str) -> InboxItem:
    folder = home.inbox_item(sid)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    return InboxItem(sid, folder, manifest if isinstance(manifest, dict) else {})


def ordered(items: list[InboxItem]) -> list[InboxItem]:
    """Episodes before assessments (assessments are checked against episodes), then arrival order."""
    return sorted(items, key=lambda i: DATASET_ORDER.get(i.dataset, 9))


def check_integrity(item: InboxItem) -> None:
    """Raise :class:`InboxError` unless the manifest and payload are what they claim to be."""
    m = item.manifest
    try:
        check_ngo_id(str(m.get("ngo_id")))
        check_dataset(str(m.get("dataset")))
        period = Period.parse(str(m.get("period")))
        date.fromisoformat(str(m.get("submitted_on")))
        declared = m.get("rows")
        if not isinstance(declared, int) or isinstance(declared, bool) or declared < 0:
            raise ValueError("rows")
    except (ValueError, TypeError):
        raise InboxError(
            "hub.manifest",
            "The manifest is missing or names an invalid NGO, period, dataset, date or row count.",
        ) from None
    contract = load_contract(item.dataset)
    if m.get("contract") != contract.tag:
        raise InboxError(
            "hub.contract",
            f"The submission was made against {m.get('contract')!r}; the hub expects {contract.tag}.",
        )
    if not item.payload.is_file():
        raise InboxError("hub.payload", "The submission has no data file.")
    actual = file_sha256(item.payload)
    if actual != item.sha256:
        raise InboxError(
            "hub.sha256",
            "The data file does not match the sha256 in its manifest; it was changed or damaged in transit.",
        )
    if item.submission_id != submission_id(str(period), item.ngo_id, item.dataset, actual):
        raise InboxError(
            "hub.manifest", "The submission's folder name does not match its manifest."
        )
    try:
        parquet = pq.ParquetFile(item.payload)
        schema, rows = parquet.schema_arrow, parquet.metadata.num_rows
    except (pa.ArrowException, OSError):
        raise InboxError("hub.payload", "The data file is not a readable Parquet file.") from None
    expected = arrow_schema(contract)
    if not schema.remove_metadata().equals(expected):
        raise InboxError(
            "hub.columns", "The data file's columns are not the sanitised columns of the contract."
        )
    if rows != item.rows:
        raise InboxError(
            "hub.rows", f"The data file has {rows} rows; its manifest says {item.rows}."
        )
