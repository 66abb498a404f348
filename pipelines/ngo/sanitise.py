"""The sanitised table: what of an NGO's extract may ever leave the NGO's computer.

The contract's columns only, typed, with client and episode references
replaced by pseudonyms under the NGO's key, plus ``source_row`` so the hub's
reports can point at the NGO's own row numbers. :mod:`pipelines.ngo.outbox`
packs it with its manifest for the hub.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from pipelines.ngo.pseudonymise import pseudonymise
from pipelines.standard.contract import Contract
from pipelines.standard.handover import arrow_schema
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
