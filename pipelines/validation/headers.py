"""Header rows: the standard's column names are case-insensitive, so every spelling reads as one.

``" Client ID "``, ``CLIENT-ID`` and ``client_id`` are the same column. A
header with an empty or repeated name, too many columns or an overlong name is
refused here, before any data row is read, by the same rules for every format.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from pipelines.standard import limits
from pipelines.validation.source import ExtractError, over_limit


def normalise_header(text: str) -> str:
    """``" Client ID "``, ``CLIENT-ID`` and ``Whānau Name`` become ``client_id`` … ``whanau_name``."""
    text = unicodedata.normalize("NFKD", str(text).replace("\ufeff", "").strip().lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[\s\-]+", "_", text)


def check_width(columns: int) -> None:
    """Refuse a header of more columns than the limit, before its names are read."""
    if columns > limits.COLUMNS.value:
        raise over_limit(
            limits.COLUMNS,
            f"The header has {columns:,} columns",
            "Keep only the standard's columns (and any you need to check), then submit again.",
        )


def check_headers(raw: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The normalised names of a header row and, by name, each one's spelling in the file."""
    check_width(len(raw))
    names = [normalise_header(h) for h in raw]
    seen: dict[str, str] = {}
    for position, (name, original) in enumerate(zip(names, raw, strict=True), start=1):
        if not name:
            raise ExtractError(
                "file.header",
                "The header row has a column with no name.",
                "Give every column a heading, or delete empty columns.",
            )
        if len(name) > limits.COLUMN_NAME_CHARACTERS.value:
            raise over_limit(
                limits.COLUMN_NAME_CHARACTERS,
                f"Column {position} of the header has a name of {len(name):,} characters",
                "Give the column a short heading; the standard's names are under 20 characters.",
            )
        if name in seen:
            raise ExtractError(
                "file.header",
                f"Two columns in the header both read as {name!r}.",
                "Column names are case-insensitive; rename or remove one of them.",
            )
        seen[name] = str(original)
    return names, seen
