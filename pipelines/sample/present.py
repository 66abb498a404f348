"""How a sample extract is written: clean, or dressed like a real NGO's export.

Real exports differ in ways that say nothing about the data: a byte-order mark,
CRLF line ends, ``Client Id`` for ``client_id``, columns in another order, a
``notes`` column, ``Hawkes Bay`` for ``Hawke's Bay``, an XLSX workbook. Intake
must see through all of that, so the demo and the tests need files that carry
it. Keeping it here, apart from the data, is what lets a messy run hold the
same rows as a clean one; and the writers pin every timestamp so the same
arguments give byte-identical files.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from openpyxl import Workbook
from openpyxl.xml.functions import tostring

from pipelines.sample.shape import Standard, take_values

# --- messy presentation: what real exports look like ------------------------------------------

_HEADER_STYLES = ("upper", "title", "padded", "kebab", "mixed")
# Columns real exports carry beside the standard ones; benign names and values only.
_EXTRA_COLUMNS = {
    "notes": ("follow-up booked", "rescheduled", "attended with support person",
              "closing summary sent", "waiting list", "did not attend"),
    "site_code": ("SITE-01", "SITE-02", "SITE-03", "SITE-04"),
    "team": ("Intake", "Outreach", "Whānau support", "Youth team", "Community"),
}  # fmt: skip
_NOTES_FILLED = 0.15


@dataclass(frozen=True)
class Look:
    """How one NGO's export tool writes files. The default is the clean standard form."""

    xlsx: bool = False
    bom: bool = False
    crlf: bool = False
    headers: str = "plain"
    shuffled: bool = False
    extras: tuple[str, ...] = ()
    aliases: bool = False

    @property
    def is_clean(self) -> bool:
        return self == Look()


def messy_look(rng: np.random.Generator, large: bool) -> Look:
    """A random export tool for a messy NGO; never the default ``Look()``."""
    # Large NGOs export from a case-management system, never by hand in Excel.
    xlsx = bool(rng.random() < 0.3) and not large
    n_extras = int(rng.integers(1, len(_EXTRA_COLUMNS) + 1))
    look = Look(
        xlsx=xlsx,
        bom=bool(rng.random() < 0.5) and not xlsx,
        crlf=bool(rng.random() < 0.5) and not xlsx,
        headers=str(rng.choice(_HEADER_STYLES)) if rng.random() < 0.7 else "plain",
        shuffled=bool(rng.random() < 0.5),
        extras=tuple(rng.choice(list(_EXTRA_COLUMNS), n_extras, replace=False))
        if rng.random() < 0.6
        else (),
        aliases=bool(rng.random() < 0.6),
    )
    return replace(look, headers=str(rng.choice(_HEADER_STYLES))) if look.is_clean else look


def _header(name: str, style: str, rng: np.random.Generator) -> str:
    if style == "mixed":
        style = str(rng.choice(_HEADER_STYLES[:-1]))
    if style == "upper":
        return name.upper()
    if style == "title":
        return name.replace("_", " ").title()
    if style == "padded":
        return f" {name} " if rng.random() < 0.5 else name
    if style == "kebab":
        return name.replace("_", "-")
    return name


def dress(
    table: pa.Table, look: Look, std: Standard, rng: np.random.Generator
) -> tuple[pa.Table, list[str]]:
    """The table as this NGO's export tool writes it, and the header it writes."""
    if look.aliases and "region" in table.column_names:
        region = table.column("region").combine_chunks()
        for alias, canonical in std.episodes.column("region").aliases.items():
            region = pc.if_else(pc.equal(region, canonical), alias, region)
        table = table.set_column(table.column_names.index("region"), "region", region)
    for extra in look.extras:
        values = _EXTRA_COLUMNS[extra]
        picked = take_values(values, rng.integers(0, len(values), table.num_rows))
        if extra == "notes":
            picked = pc.if_else(pa.array(rng.random(table.num_rows) >= _NOTES_FILLED), None, picked)
        table = table.append_column(extra, picked)
    if look.shuffled:
        table = table.select(list(rng.permutation(table.column_names)))
    return table, [_header(name, look.headers, rng) for name in table.column_names]


# --- writing ----------------------------------------------------------------------------------


def _write_csv(path: Path, table: pa.Table, header: Sequence[str], look: Look) -> None:
    body = io.BytesIO()
    # Quoting "none": no value holds a comma, quote or line break, and arrow would quote headers.
    pacsv.write_csv(table, body, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    data = (",".join(header) + "\n").encode("utf-8") + body.getvalue()
    if look.crlf:
        data = data.replace(b"\n", b"\r\n")
    path.write_bytes((b"\xef\xbb\xbf" if look.bom else b"") + data)


def _write_xlsx(path: Path, table: pa.Table, header: Sequence[str], stamp: datetime) -> None:
    """First sheet, header in row 1, real Excel dates, numbers as numbers; byte-reproducible."""
    book = Workbook(write_only=True)
    book.properties.creator = "Outcome Hub sample generator"
    sheet = book.create_sheet(path.stem)
    sheet.append(list(header))
    for row in zip(*(table.column(i).to_pylist() for i in range(table.num_columns)), strict=True):
        sheet.append(list(row))
    raw = io.BytesIO()
    book.save(raw)
    # openpyxl stamps the workbook and every zip entry with the current time; pin both.
    book.properties.created = book.properties.modified = stamp
    core = tostring(book.properties.to_tree())
    packed = io.BytesIO()
    with (
        zipfile.ZipFile(raw) as source,
        zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            content = core if info.filename == "docProps/core.xml" else source.read(info)
            target.writestr(entry, content)
    path.write_bytes(packed.getvalue())


def write_extract(
    stem: Path, table: pa.Table, header: Sequence[str], look: Look, stamp: datetime
) -> Path:
    """Write ``stem.csv`` or ``stem.xlsx``, as the look says."""
    path, other = (stem.with_suffix(".xlsx"), stem.with_suffix(".csv"))
    if not look.xlsx:
        path, other = other, path
    # A re-run in another format must not leave the old file beside the new one.
    other.unlink(missing_ok=True)
    if look.xlsx:
        _write_xlsx(path, table, header, stamp)
    else:
        _write_csv(path, table, header, look)
    return path
