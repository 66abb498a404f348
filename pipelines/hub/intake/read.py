"""Reading payloads: a chunk of sanitised submissions as one SQL relation and one text frame.

Many submissions are validated in one frame (per-submission rules stay per
submission through the ``_submission`` column) because the fixed cost of a
validation call, not the rows, dominates at two thousand submissions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pandas as pd

from pipelines.hub.inbox import InboxItem
from pipelines.standard.contract import Contract
from pipelines.validation.findings import ROW, SUBMISSION, value_column

CHUNK_ROWS = 400_000
"""Rows validated per Great Expectations call. GX's pandas engine holds about 1.5 KB a row in
transient copies; 400,000 rows keep a national batch under 2 GiB at a fixed cost of ~1 s a call."""

_SHADOW_TYPES = {"integer": "DOUBLE", "date": "TIMESTAMP"}


@dataclass
class Chunk:
    """Consecutive submissions of one dataset, validated together."""

    items: list[InboxItem] = field(default_factory=list)
    rows: int = 0


def chunks(items: list[InboxItem]) -> list[Chunk]:
    """Consecutive submissions grouped into frames of at most CHUNK_ROWS rows (a larger
    submission is a frame of its own)."""
    found = [Chunk()]
    for item in items:
        if found[-1].items and found[-1].rows + item.rows > CHUNK_ROWS:
            found.append(Chunk())
        found[-1].items.append(item)
        found[-1].rows += item.rows
    return [c for c in found if c.items]


def payloads(items: list[InboxItem]) -> tuple[str, dict[str, list[str]]]:
    """A SQL relation over the items' payloads, with each row's submission, NGO and period,
    and its parameters.

    The submission id is the payload's folder name, which the integrity check has
    already matched against the manifest; NGO and period are parts of it.
    """
    folder = "string_split(parse_dirpath(filename), '/')[-1]"
    relation = (
        f"(SELECT {folder} AS submission_id, string_split({folder}, '.')[2] AS ngo_id, "
        f"string_split({folder}, '.')[1] AS period, * EXCLUDE (filename) "
        "FROM read_parquet($files, filename = true))"
    )
    return relation, {"files": [str(i.payload) for i in items]}


def read_as_text(
    con: duckdb.DuckDBPyConnection, contract: Contract, items: list[InboxItem]
) -> pd.DataFrame:
    """All payloads of a chunk as one text frame, the way the NGO side saw them."""
    relation, params = payloads(items)
    casts = ", ".join(
        f'lower(CAST("{c.name}" AS VARCHAR)) AS "{c.name}"'
        if c.logical_type == "boolean"
        else f'CAST("{c.name}" AS VARCHAR) AS "{c.name}"'
        for c in contract.columns
    )
    # The payload is typed: its values are the typed shadows, so text is not parsed back.
    shadows = "".join(
        f', CAST("{c.name}" AS {_SHADOW_TYPES[c.logical_type]}) AS "{value_column(c.name)}"'
        for c in contract.columns
        if c.logical_type in _SHADOW_TYPES
    )
    table = con.execute(
        f"SELECT submission_id AS {SUBMISSION}, source_row AS {ROW}, {casts}{shadows} FROM {relation}",
        params,
    ).to_arrow_table()
    return table.to_pandas()
