"""Build the sanitised file and hand it to the hub's inbox, atomically.

The sanitised file holds the contract's columns only, typed, with client and
episode references replaced by pseudonyms, plus ``source_row`` so the hub's
reports can point at the NGO's own row numbers. It is written into a hidden
folder and renamed into place with its manifest, so the hub never sees half a
submission.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import __version__
from pipelines.home import Home
from pipelines.ngo.pseudonymise import pseudonymise
from pipelines.standard.contract import Contract
from pipelines.standard.handover import MANIFEST, PAYLOAD, Manifest, arrow_schema, file_sha256
from pipelines.standard.periods import Period
from pipelines.validation.findings import ROW, value_column
from pipelines.validation.prepare import parse_booleans


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
        manifest = Manifest(
            ngo_id=ngo_id,
            period=str(period),
            dataset=contract.dataset,
            contract=contract.tag,
            contract_version=contract.version,
            sha256=sha,
            rows=table.num_rows,
            submitted_on=submitted_on,
            columns=tuple(table.column_names),
            dropped_columns=len(dropped_columns),
            submitted_at=datetime.now(UTC),
            tool=f"outcome-hub {__version__}",
        )
        sid = manifest.submission_id
        (staging / MANIFEST).write_bytes(manifest.to_json())
        final = home.inbox_item(sid)
        if final.exists():
            shutil.rmtree(staging)
            return Handover(sid, final, sha, duplicate=True)
        staging.rename(final)
        return Handover(sid, final, sha, duplicate=False)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
