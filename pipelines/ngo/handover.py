"""Build the sanitised file and hand it to the hub's inbox, atomically.

The sanitised file holds the contract's columns only, typed, with client and
episode references replaced by pseudonyms, plus ``source_row`` so the hub's
reports can point at the NGO's own row numbers. It is written into a hidden
folder and renamed into place with its manifest, so the hub never sees half a
submission.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import __version__
from pipelines.home import Home
from pipelines.ngo.pseudonymise import pseudonymise
from pipelines.standard.contract import Contract
from pipelines.standard.names import submission_id
from pipelines.standard.periods import Period
from pipelines.validation.findings import ROW, value_column
from pipelines.validation.prepare import parse_booleans

PAYLOAD = "data.parquet"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
SOURCE_ROW = "source_row"

_ARROW_TYPES = {
    "integer": pa.int32(),
    "date": pa.date32(),
    "boolean": pa.bool_(),
    "string": pa.string(),
}


def arrow_schema(contract: Contract) -> pa.Schema:
    """The schema of a sanitised file: contract columns in contract order, then ``source_row``."""
    fields = [pa.field(c.name, _ARROW_TYPES[c.logical_type]) for c in contract.columns]
    return pa.schema([*fields, pa.field(SOURCE_ROW, pa.int32())])


def sanitised_table(prepared: pd.DataFrame, contract: Contract, key: bytes) -> pa.Table:
    """The sanitised rows of a validated, prepared frame."""
    arrays: list[pa.Array] = []
    for column in contract.columns:
        name = column.name
        if name in contract.pseudonymised_columns:
            arrays.append(pa.array(pseudonymise(prepared[name], key, name), type=pa.string()))
        elif column.logical_type == "integer":
            arrays.append(pa.array(prepared[value_column(name)].astype("Int64"), type=pa.int32()))
        elif column.logical_type == "date":
            arrays.append(pa.array(prepared[value_column(name)].dt.date, type=pa.date32()))
        elif column.logical_type == "boolean":
            parsed = parse_booleans(
                prepared[name], column.true_spellings, column.false_spellings, column.default
            )
            arrays.append(pa.array(parsed, type=pa.bool_()))
        else:
            arrays.append(pa.array(prepared[name], type=pa.string()))
    arrays.append(pa.array(prepared[ROW], type=pa.int32()))
    return pa.Table.from_arrays(arrays, schema=arrow_schema(contract))


@dataclass(frozen=True)
class Handover:
    submission_id: str
    folder: Path
    sha256: str
    duplicate: bool


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hand_over(
    table: pa.Table,
    *,
    home: Home,
    ngo_id: str,
    period: Period,
    contract: Contract,
    submitted_on: date,
    dropped_columns: tuple[str, ...],
) -> Handover:
    """Write the sanitised file and its manifest into the hub's inbox."""
    home.inbox.mkdir(parents=True, exist_ok=True)
    staging = home.inbox / f".incoming-{uuid.uuid4().hex}"
    staging.mkdir(mode=0o700)
    try:
        payload = staging / PAYLOAD
        pq.write_table(table, payload, compression="zstd")
        sha = file_sha256(payload)
        sid = submission_id(str(period), ngo_id, contract.dataset, sha)
        manifest: dict[str, Any] = {
            "manifest_version": MANIFEST_VERSION,
            "submission_id": sid,
            "ngo_id": ngo_id,
            "period": str(period),
            "dataset": contract.dataset,
            "contract": contract.tag,
            "contract_version": contract.version,
            "sha256": sha,
            "rows": table.num_rows,
            "columns": table.column_names,
            "dropped_columns": list(dropped_columns),
            "submitted_on": submitted_on.isoformat(),
            # Microseconds: the hub makes the latest submission current, and a correction can
            # follow its original within the same second.
            "submitted_at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "tool": f"outcome-hub {__version__}",
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        final = home.inbox_item(sid)
        if final.exists():
            shutil.rmtree(staging)
            return Handover(sid, final, sha, duplicate=True)
        staging.rename(final)
        return Handover(sid, final, sha, duplicate=False)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
