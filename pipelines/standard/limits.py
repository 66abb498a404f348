"""Every limit on what a submission may be, in one place, each with its reason.

A file is checked against these before its content is decoded, so that a small
file that expands enormously (a "bomb") costs a glance at its directory or
footer, not the machine's memory. The NGO side (``outcomes submit``) and the
hub (re-validating a sanitised payload) import the same values, and every
message that enforces a limit names it, e.g. "over the limit
`rows_per_submission` (1,000,000 rows)", so the README's table, the code and
the report say the same thing.

The values are sized from the national benchmark (``make bench``): a national
quarter is about 2,000 NGOs, 750,000 episodes and 2.5 million assessment rows;
a typical NGO sends a few hundred episodes and a thousand or so assessment
rows; the largest single extract is about 44,000 rows (3.6 MB as CSV, 25 MB of
sheet XML as XLSX, 7.7 MB decoded). Each limit leaves a margin of at least
twenty times that largest extract, and so of hundreds of times a typical one.
"""

from __future__ import annotations

from dataclasses import dataclass

_MB = 1024 * 1024


@dataclass(frozen=True)
class Limit:
    """One named limit: ``value`` counted in ``unit``."""

    name: str
    value: int
    unit: str

    def __post_init__(self) -> None:
        if self.value <= 0:
            raise ValueError(f"limit {self.name} must be positive, got {self.value}")

    @property
    def amount(self) -> str:
        """The value as a person reads it: ``100 MB``, ``1,000,000 rows``."""
        return self.measure(self.value)

    def measure(self, amount: int) -> str:
        """``amount`` in this limit's unit, precise enough to differ from the limit's value."""
        if self.unit != "bytes":
            return f"{amount:,} {self.unit}"
        if self.value < _MB:
            return f"{amount:,} bytes"
        for places in (0, 1, 2):
            text = f"{amount / _MB:,.{places}f}"
            if amount == self.value or text != f"{self.value / _MB:,.{places}f}":
                return f"{text} MB"
        return f"{amount:,} bytes"

    def __str__(self) -> str:
        return f"the limit `{self.name}` ({self.amount})"


FILE_BYTES = Limit("file_bytes", 100 * _MB, "bytes")
"""Size of one extract file as it is on disk (compressed, for XLSX and Parquet).

The largest extract of a national quarter is under 4 MB as CSV; a CSV at the
row limit below is under 100 MB. The whole file is read into memory once (then
hashed and parsed from there), so this also bounds that read.
"""

WORKBOOK_PART_BYTES = Limit("workbook_part_bytes", 256 * _MB, "bytes")
"""Uncompressed size of any one part (sheet, shared strings, styles…) of an XLSX workbook,
read from the zip directory before any part is opened.

Sheet XML costs 25 to 45 bytes a cell: the largest extract (44,000 rows of 13
columns) is 25 MB of it. 256 MB holds ten times that, about 450,000 such rows,
which openpyxl parses in about a minute; a 100 MB workbook could otherwise hold
gigabytes of XML.
"""

WORKBOOK_COMPRESSION_RATIO = Limit("workbook_compression_ratio", 100, "times the file's size")
"""How much larger all parts of an XLSX workbook together are than the workbook file.

Real workbooks expand 5 to 16 times (a sheet of 44,000 identical rows expands
16 times, because every cell carries its own reference); a zip bomb expands
hundreds or thousands of times.
"""

WORKBOOK_PARTS = Limit("workbook_parts", 1_000, "parts")
"""Entries in the zip directory of an XLSX workbook, counted before the directory is parsed.

A workbook holds about ten parts, plus two or three per extra sheet, chart or
picture; an extract's workbook needs one sheet. Each part costs memory before
anything is read, so a directory of millions of entries is refused unread.
"""

ROWS = Limit("rows_per_submission", 1_000_000, "rows")
"""Rows of one submission (one NGO, one quarter, one dataset), blank rows included.

Twenty-three times the largest extract of a national quarter (44,000 rows), and
40% of the whole country's assessment rows for a quarter.
"""

COLUMNS = Limit("columns_per_submission", 512, "columns")
"""Columns of one submission.

The contracts have at most 13 columns; case-management exports carry extra
columns (which ``outcomes submit`` drops), rarely more than a hundred.
"""

CELLS = Limit("cells_per_submission", 25_000_000, "cells")
"""Rows times columns of one submission: what reading the file costs in memory.

The widest contract (13 columns) at the row limit is 13 million cells; 25
million leaves room for a dozen extra columns at that size, or 500 columns of
the largest extract.
"""

CELL_CHARACTERS = Limit("cell_characters", 32_767, "characters")
"""Characters in one cell, header cells included.

Excel's own limit per cell: whatever an NGO keeps in a spreadsheet fits. The
standard's text columns hold at most 64 characters; longer text is free text
(case notes), which the standard does not take.
"""

COLUMN_NAME_CHARACTERS = Limit("column_name_characters", 256, "characters")
"""Characters in one column name, after names are normalised.

The standard's names are under 20 characters. Names of dropped columns travel
to the hub in the manifest, so this bounds the manifest too.
"""

PARQUET_ROW_GROUPS = Limit("parquet_row_groups", 1_000, "row groups")
"""Row groups in one Parquet file, read from its footer.

Writers cut a row group every 100,000 to 1,000,000 rows (DuckDB 122,880,
Polars 262,144, pyarrow 1,048,576), so a file at the row limit has at most ten.
Every row group costs a read per column; thousands of tiny ones are a way to
make a small file slow.
"""

PARQUET_FOOTER_BYTES = Limit("parquet_footer_bytes", 16 * _MB, "bytes")
"""Size of a Parquet file's footer (its schema and metadata), read from the file's last
eight bytes before the footer is parsed.

A footer costs about 500 bytes per column per row group: 13 columns in one row
group is 7 KB, and 1,000 row groups of 13 columns are under 7 MB.
"""

PARQUET_DECODED_BYTES = Limit("parquet_decoded_bytes", 512 * _MB, "bytes")
"""Size of a Parquet file's values once decoded, computed from its footer and
dictionaries before any column is expanded.

The largest extract decodes to 7.7 MB (175 bytes a row); a 13-column file at
the row limit decodes to under 200 MB. Parquet's dictionaries and run lengths
let a 1 MB file decode to gigabytes, so this is checked before decoding.
"""

MANIFEST_BYTES = Limit("manifest_bytes", 256 * 1024, "bytes")
"""Size of a submission's ``manifest.json``, checked by the hub before it parses one.

A manifest is under 1 KB: it lists the payload's columns (the contract's, plus
``source_row``) and counts the columns left out, never naming them. The largest
a valid manifest can be lists 512 column names of 256 characters, about 135 KB.
"""

LIMITS: tuple[Limit, ...] = (
    FILE_BYTES,
    WORKBOOK_PART_BYTES,
    WORKBOOK_COMPRESSION_RATIO,
    WORKBOOK_PARTS,
    ROWS,
    COLUMNS,
    CELLS,
    CELL_CHARACTERS,
    COLUMN_NAME_CHARACTERS,
    PARQUET_ROW_GROUPS,
    PARQUET_FOOTER_BYTES,
    PARQUET_DECODED_BYTES,
    MANIFEST_BYTES,
)
"""Every limit, in the order the README lists them."""
