"""The NGO's outbox: sanitised packages waiting until the hub has given its receipt.

A package is what crosses to the hub: the sanitised file (contract columns,
pseudonyms, ``source_row``) and its manifest, in the hand-over protocol's
file names. It is written under a hidden name and renamed into place, so the
outbox never holds half a package; it leaves the outbox only when the hub's
receipt is safely on the NGO's disk (``receipts/<id>.json``), or when the hub
refused it for good. A dropped connection or a hub that is down loses nothing:
the package waits, and ``outcomes outbox send`` tries again.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import __version__
from pipelines.home import private_dir
from pipelines.ngo.folder import NgoHome
from pipelines.standard.api import Problem, Receipt
from pipelines.standard.contract import Contract
from pipelines.standard.handover import MANIFEST, PAYLOAD, Manifest, file_sha256
from pipelines.standard.names import check_submission_id
from pipelines.standard.periods import Period

_STAGING = ".packing-"


@dataclass(frozen=True)
class Package:
    """One sanitised submission in the outbox."""

    ngo_id: str
    folder: Path
    manifest: Manifest

    @property
    def submission_id(self) -> str:
        return self.manifest.submission_id

    @property
    def payload(self) -> Path:
        return self.folder / PAYLOAD

    def manifest_bytes(self) -> bytes:
        return (self.folder / MANIFEST).read_bytes()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pack(
    table: pa.Table,
    *,
    ngo_home: NgoHome,
    ngo_id: str,
    period: Period,
    contract: Contract,
    submitted_on: date,
    dropped_columns: int,
) -> Package:
    """Write the sanitised table and its manifest into the outbox, whole or not at all."""
    outbox = private_dir(ngo_home.outbox(ngo_id))
    staging = outbox / f"{_STAGING}{uuid.uuid4().hex}"
    staging.mkdir(mode=0o700)
    try:
        payload = staging / PAYLOAD
        pq.write_table(table, payload, compression="zstd")
        manifest = Manifest(
            ngo_id=ngo_id,
            period=str(period),
            dataset=contract.dataset,
            contract=contract.tag,
            contract_version=contract.version,
            sha256=file_sha256(payload),
            rows=table.num_rows,
            submitted_on=submitted_on,
            columns=tuple(table.column_names),
            dropped_columns=dropped_columns,
            submitted_at=datetime.now(UTC),
            tool=f"outcome-hub {__version__}",
        )
        (staging / MANIFEST).write_bytes(manifest.to_json())
        for name in (PAYLOAD, MANIFEST):
            _fsync(staging / name)
        final = outbox / manifest.submission_id
        if final.exists():  # the same sanitised bytes are already waiting
            shutil.rmtree(staging)
            return Package(ngo_id, final, Manifest.parse((final / MANIFEST).read_bytes()))
        staging.rename(final)
        _fsync(outbox)
        return Package(ngo_id, final, manifest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def waiting(ngo_home: NgoHome, ngo_id: str | None = None) -> list[Package]:
    """Every complete package in the outbox (of one NGO, or of every NGO here), oldest first."""
    found: list[tuple[int, Package]] = []
    for ngo in [ngo_id] if ngo_id else ngo_home.ngos():
        outbox = ngo_home.outbox(ngo)
        if not outbox.is_dir():
            continue
        for entry in outbox.iterdir():
            if entry.name.startswith("."):
                continue  # a package being written (or one a crash cut short)
            package = _load(ngo, entry)
            if package is not None:
                found.append((entry.stat().st_mtime_ns, package))
    return [p for _, p in sorted(found, key=lambda pair: (pair[0], pair[1].submission_id))]


def _load(ngo_id: str, folder: Path) -> Package | None:
    try:
        check_submission_id(folder.name)
        manifest = Manifest.parse((folder / MANIFEST).read_bytes())
    except (ValueError, OSError):
        return None
    if manifest.submission_id != folder.name or not (folder / PAYLOAD).is_file():
        return None
    return Package(ngo_id, folder, manifest)


def find(ngo_home: NgoHome, ngo_id: str, submission_id: str) -> Package | None:
    folder = ngo_home.outbox(ngo_id) / check_submission_id(submission_id)
    return _load(ngo_id, folder) if folder.is_dir() else None


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    _fsync(tmp)
    tmp.replace(path)


def delivered(ngo_home: NgoHome, package: Package, receipt: Receipt) -> Path:
    """Keep the hub's receipt, then let the package go; return the receipt's path."""
    path = ngo_home.receipts(package.ngo_id) / f"{package.submission_id}.json"
    _write_json(path, receipt.model_dump())
    shutil.rmtree(package.folder, ignore_errors=True)
    return path


def returned(ngo_home: NgoHome, package: Package, status: int, problem: Problem) -> Path:
    """Record the hub's refusal of a package (which sending again would not change), then let
    the package go; return where the refusal is kept."""
    path = ngo_home.receipts(package.ngo_id) / f"{package.submission_id}.refused.json"
    _write_json(path, {"status": status, **problem.model_dump()})
    shutil.rmtree(package.folder, ignore_errors=True)
    return path


def receipt_of(ngo_home: NgoHome, ngo_id: str, submission_id: str) -> Receipt | None:
    """The hub's receipt for a submission this NGO delivered, if it has one."""
    path = ngo_home.receipts(ngo_id) / f"{check_submission_id(submission_id)}.json"
    try:
        return Receipt.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return None
