"""The hub's inbox: complete submissions waiting for intake, read through the hand-over protocol.

The hub trusts nothing the sender says: a folder is only ever one whose name is
a submission id the hub could have made, its manifest is parsed by
:meth:`~pipelines.standard.handover.Manifest.parse`, the payload's hash is
recomputed, and its schema must be exactly the sanitised schema of the contract.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.home import Home
from pipelines.standard.api import Receipt
from pipelines.standard.contract import DATASETS, load_contract
from pipelines.standard.handover import (
    MANIFEST,
    PAYLOAD,
    RECEIPT,
    Manifest,
    ManifestError,
    arrow_schema,
)
from pipelines.standard.limits import MANIFEST_BYTES
from pipelines.standard.names import SubmissionName, check_submission_id
from pipelines.validation.columnar import check_parquet_limits
from pipelines.validation.source import ExtractError, read_source

STAGING_PREFIX = ".incoming-"
"""Hidden folders an upload is written into before it is renamed into place."""


class InboxError(Exception):
    """A submission in the inbox is not what its manifest says. ``rule`` names the check."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class InboxItem:
    """One complete submission in the inbox: its folder, and its manifest or why it has none.

    Who, when and what come from the folder's name (a submission id, checked before
    it was ever used as a path), so even a submission with a broken manifest can be
    reported against the right NGO, period and dataset.
    """

    submission_id: str
    folder: Path
    manifest: Manifest | None
    manifest_error: ManifestError | None = None
    receipt: Receipt | None = None
    """The hub's own record of who sent it and when (written by the receiver)."""

    @property
    def name(self) -> SubmissionName:
        return SubmissionName.parse(self.submission_id)

    @property
    def payload(self) -> Path:
        return self.folder / PAYLOAD

    @property
    def ngo_id(self) -> str:
        return self.name.ngo_id

    @property
    def period(self) -> str:
        return self.name.period

    @property
    def dataset(self) -> str:
        return self.name.dataset

    @property
    def received_at(self) -> str | None:
        """When the hub received it, by its own clock (None without the hub's receipt)."""
        return self.receipt.received_at if self.receipt else None

    @property
    def sha256(self) -> str:
        return self.manifest.sha256 if self.manifest else ""

    @property
    def rows(self) -> int:
        """The row count the manifest declares (0 without a valid manifest)."""
        return self.manifest.rows if self.manifest else 0

    @property
    def submitted_on(self) -> date:
        if self.manifest is None:
            raise ValueError("a submission without a valid manifest has no date")
        return self.manifest.submitted_on


@dataclass(frozen=True)
class Stray:
    """Something in the inbox that the hub did not put there: never read, never followed."""

    name: str
    kind: str  # "symbolic link", "file", "folder", "special file"

    @property
    def described(self) -> str:
        """What it is, without its name (which anyone could have chosen)."""
        return f"a {self.kind} named {_fingerprint(self.name)}"


def _fingerprint(name: str) -> str:
    return "#" + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:12]


def _regular(folder: Path, name: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(folder / name).st_mode)
    except OSError:
        return False


def _scan(home: Home) -> tuple[list[tuple[int, str]], list[Stray]]:
    """Complete submissions the hub received (arrival mark, id), and everything else."""
    if not home.inbox.is_dir():
        return [], []
    found, strays = [], []
    with os.scandir(home.inbox) as entries:
        for entry in entries:
            if entry.name.startswith(STAGING_PREFIX):
                continue  # an upload still being written (or one a crash cut short)
            if entry.is_symlink():
                strays.append(Stray(entry.name, "symbolic link"))
                continue
            if not entry.is_dir(follow_symlinks=False):
                kind = "file" if entry.is_file(follow_symlinks=False) else "special file"
                strays.append(Stray(entry.name, kind))
                continue
            try:
                check_submission_id(entry.name)
            except ValueError:
                strays.append(Stray(entry.name, "folder"))  # never act on a name we did not make
                continue
            folder = home.inbox / entry.name
            if not (_regular(folder, MANIFEST) and _regular(folder, RECEIPT)):
                strays.append(Stray(entry.name, "folder"))  # not received through the API
                continue
            found.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.name))
    return sorted(found), sorted(strays, key=lambda s: s.name)


def pending(home: Home) -> list[tuple[int, str]]:
    """(arrival mark, submission id) of every submission the hub received and has not taken in,
    oldest first. The mark is the folder's modification time in nanoseconds: the receiver
    renames a finished folder into place, so it is when the submission arrived."""
    return _scan(home)[0]


def strays(home: Home) -> list[Stray]:
    """Entries of the inbox that the hub did not put there (links, files, folders of other
    names or without the hub's receipt), to be refused and reported."""
    return _scan(home)[1]


def pending_ids(home: Home) -> list[str]:
    """Submission ids with a complete folder in the inbox, in arrival order."""
    return [name for _, name in pending(home)]


def load_item(home: Home, sid: str) -> InboxItem:
    """The inbox item ``sid``, its manifest parsed (or the reason it cannot be)."""
    folder = home.inbox_item(sid)
    receipt = _receipt(folder)
    try:
        data = read_source(folder / MANIFEST, limit=MANIFEST_BYTES, follow_symlinks=False).data
        return InboxItem(sid, folder, Manifest.parse(data), receipt=receipt)
    except ExtractError as error:
        return InboxItem(sid, folder, None, ManifestError("manifest", error.message), receipt)
    except ManifestError as error:
        return InboxItem(sid, folder, None, error, receipt)


def _receipt(folder: Path) -> Receipt | None:
    try:
        data = read_source(folder / RECEIPT, limit=MANIFEST_BYTES, follow_symlinks=False).data
        return Receipt.model_validate_json(data)
    except (ExtractError, ValueError):
        return None


def ordered(items: list[InboxItem]) -> list[InboxItem]:
    """Episodes before assessments (assessments are checked against episodes), then arrival order."""
    return sorted(items, key=lambda i: DATASETS.index(i.dataset))


def check_integrity(item: InboxItem) -> None:
    """Raise :class:`InboxError` unless the manifest and payload are what they claim to be."""
    m = item.manifest
    if m is None:
        reason = item.manifest_error.message if item.manifest_error else "the manifest is missing"
        raise InboxError("hub.manifest", f"The manifest cannot be used: {reason}.")
    r = item.receipt
    if r is None or r.submission_id != item.submission_id or r.ngo_id != m.ngo_id:
        raise InboxError(
            "hub.receipt",
            "The submission has no receipt from the hub's API for the NGO its manifest names; "
            "only what the hub received is taken in. Submit it with `outcomes submit --hub`.",
        )
    contract = load_contract(m.dataset)
    if m.contract != contract.tag:
        raise InboxError(
            "hub.contract",
            f"The submission was made against {m.contract!r}; the hub expects {contract.tag}.",
        )
    if m.submission_id != item.submission_id:
        raise InboxError(
            "hub.manifest", "The submission's folder name does not match its manifest."
        )
    try:
        source = read_source(item.payload, follow_symlinks=False)
    except ExtractError as error:
        raise InboxError("hub.payload", f"The data file cannot be read: {error.message}") from None
    if source.sha256 != m.sha256:
        raise InboxError(
            "hub.sha256",
            "The data file does not match the sha256 in its manifest; it was changed or damaged in transit.",
        )
    try:
        # Every limit is checked from the footer, page headers and dictionaries before a value
        # is decoded: a small payload cannot expand into the hub's memory.
        check_parquet_limits(source)
        parquet = pq.ParquetFile(pa.BufferReader(source.data))
        schema, rows = parquet.schema_arrow, parquet.metadata.num_rows
    except ExtractError as error:
        raise InboxError(
            "hub.limits" if error.limit else "hub.payload", f"The data file: {error.message}"
        ) from None
    except (pa.ArrowException, OSError):
        raise InboxError("hub.payload", "The data file is not a readable Parquet file.") from None
    if not schema.remove_metadata().equals(arrow_schema(contract)):
        raise InboxError(
            "hub.columns", "The data file's columns are not the sanitised columns of the contract."
        )
    if rows != m.rows:
        raise InboxError("hub.rows", f"The data file has {rows} rows; its manifest says {m.rows}.")
