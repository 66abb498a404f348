"""The audit anchor in the published zone: ``exports/audit_anchor.json`` beside the cells, and
reading back a copy someone saved.

The published zone only carries signed heads; it cannot check them (that needs the
hub's log), so these tests are about the file: what it holds, and what it refuses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_dashboards_zone import FAKE_HEAD, fabricate_zone

from pipelines.published.export import (
    ANCHOR_FILE,
    ANCHOR_FORMAT,
    anchor_document,
    read_anchor,
    write_exports,
)
from pipelines.published.store import ANCHOR_FIELDS, SCHEMA


def test_the_exports_carry_the_signed_head_beside_the_cells(tmp_path: Path) -> None:
    """Tests that a publication's exports hold audit_anchor.json beside cells.csv and
    cells.parquet, with the published head, its public key, fingerprint and signature, and
    every checkpoint, and that it reads back as written."""
    published = fabricate_zone(tmp_path / "published.duckdb", ngos=1, periods=("2025-Q3",))
    exports = tmp_path / "exports"
    written = write_exports(published, exports)
    assert {p.name for p in written} == {"cells.csv", "cells.parquet", ANCHOR_FILE}
    document = json.loads((exports / ANCHOR_FILE).read_text(encoding="utf-8"))
    assert document["format"] == ANCHOR_FORMAT
    assert document["head"] == FAKE_HEAD
    assert [c["seq"] for c in document["checkpoints"]] == [40, 42]
    assert document["published_at"].startswith("2025-12-01T00:00:00")
    assert "outcomes audit --verify --against" in document["about"]
    assert read_anchor(exports) == read_anchor(exports / ANCHOR_FILE) == document


def test_the_anchor_fields_are_the_published_columns() -> None:
    """Tests that the fields of one signed head are the same in the publication row (prefixed
    audit_) and in the checkpoints table, so a head and a checkpoint read alike."""
    assert tuple(SCHEMA["audit_checkpoints"]) == ANCHOR_FIELDS
    assert {f"audit_{f}" for f in ANCHOR_FIELDS} <= set(SCHEMA["publication"])


def test_an_empty_log_publishes_no_head(tmp_path: Path) -> None:
    """Tests that a publication made while the audit log was empty exports a null head."""
    from test_dashboards_zone import fabricated_tables

    from pipelines.published.store import write_published

    tables = fabricated_tables(ngos=1, periods=("2025-Q3",))
    for field in ANCHOR_FIELDS:
        tables["publication"][f"audit_{field}"] = None
    tables["audit_checkpoints"] = tables["audit_checkpoints"].iloc[0:0]
    write_published(tmp_path / "published.duckdb", tables)
    document = anchor_document(tmp_path / "published.duckdb")
    assert document["head"] is None
    assert document["checkpoints"] == []


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (None, "holds no audit_anchor.json"),
        ("not json", "is not a readable JSON file"),
        ('{"format": "something-else"}', "is not an Outcome Hub audit anchor"),
        (json.dumps({"format": ANCHOR_FORMAT, "head": [1, 2]}), "not records"),
        (json.dumps({"format": ANCHOR_FORMAT, "head": None, "checkpoints": [3]}), "not records"),
    ],
)
def test_a_file_that_is_not_an_anchor_is_refused_with_a_sentence(
    tmp_path: Path, content: str | None, error: str
) -> None:
    """Tests that an anchor handed in is refused, in words, when it is a folder without the
    file, not JSON, another document, or holds a head or checkpoints that are not records."""
    if content is None:
        path = tmp_path / "saved-exports"
        path.mkdir()
    else:
        path = tmp_path / "anchor.json"
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=error):
        read_anchor(path)
