"""Typed cells as the standard's text: one spelling of a date, a number or a boolean, whatever
the file format.

Every cell is read as text so that a wrong type is reported as a broken rule on
a row rather than crashing the reader. Excel and Parquet carry typed values;
these functions spell them as a CSV of the same data would: ``2025-07-01`` for
a date (or a midnight timestamp), ``3`` for a whole float, ``true`` and
``false``. A column whose values have no single-text spelling (lists,
structures) is refused by its name and type, never by its values.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.validation.source import ExtractError


def float_text(value: float | None) -> str | None:
    if value is None or math.isnan(value):
        return None
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def cell_text(value: Any) -> str | None:
    """A spreadsheet cell's value as text; ``None`` for an empty cell."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return float_text(value)
    return str(value)


def arrow_to_text(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    """A typed Arrow column as text, or :class:`ExtractError` naming the column and its type."""
    try:
        return _to_text(column, name)
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError, pa.ArrowInvalid):
        raise not_one_value(name, column.type) from None


def _to_text(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_dictionary(kind):
        return _to_text(column.cast(kind.value_type), name)
    if _is_text(kind) or _is_bytes(kind):
        return _checked_utf8(column, name)
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "true", "false")
    if pa.types.is_timestamp(kind):
        column = column.cast(pa.date32()) if _all_midnight(column) else column
    if pa.types.is_floating(kind):
        return pa.chunked_array([[float_text(v) for v in column.to_pylist()]], type=pa.string())
    if pa.types.is_nested(kind) or pa.types.is_union(kind) or isinstance(kind, pa.ExtensionType):
        raise not_one_value(name, kind)
    return column.cast(pa.string())


def _is_text(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _is_bytes(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_binary_view(kind)
        or pa.types.is_fixed_size_binary(kind)
    )


def _checked_utf8(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    """Text columns as ``string``, refused if any value is not UTF-8: Parquet does not check,
    and text that is not UTF-8 would break every step after this one."""
    try:
        if _is_bytes(column.type):
            return column.cast(pa.binary()).cast(pa.string())  # the cast checks UTF-8
        text = column.cast(pa.string())
        text.validate(full=True)
    except pa.ArrowInvalid:
        raise ExtractError(
            "file.encoding",
            f"Column {name!r} holds text that is not UTF-8.",
            "Export the file again with its text encoded as UTF-8.",
        ) from None
    return text


def not_one_value(name: str, kind: pa.DataType) -> ExtractError:
    """The refusal of a column whose values are lists or structures, by its name and type."""
    return ExtractError(
        "file.readable",
        f"Column {name!r} holds values of type {kind}, which cannot be read as one value a cell.",
        "Export the column as text, whole numbers, decimals, dates or true/false.",
    )


def _all_midnight(column: pa.ChunkedArray) -> bool:
    valid = column.drop_null()
    if len(valid) == 0:
        return True
    return bool(pc.all(pc.equal(valid, pc.floor_temporal(valid, unit="day"))).as_py())
