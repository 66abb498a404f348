"""The steward page prints the audit log's signed head, as the published zone holds it.

Pages are built from a fabricated published zone and rendered with the site's own
Jinja environment; no whole site is built (tests/unit/test_dashboards.py does that).
"""

from __future__ import annotations

import csv
import html as html_module
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from test_dashboards_zone import FAKE_HEAD, fabricated_tables

from dashboards.charts import Downloads
from dashboards.pages import steward
from dashboards.site import environment, render
from dashboards.zone import load_zone
from pipelines.hub.anchor import AuditSigner
from pipelines.published.store import ANCHOR_FIELDS, write_published


def steward_page(tables: dict[str, pd.DataFrame], tmp_path: Path) -> tuple[str, Downloads]:
    """The steward page's visible text (whitespace collapsed) and its downloads."""
    path = tmp_path / "published.duckdb"
    write_published(path, tables)
    zone = load_zone(path)
    downloads = Downloads()
    page = steward.pages(zone, downloads)[0]
    html = render(environment(), page, zone)
    section = html[html.index('id="audit-anchor"') :]
    text = html_module.unescape(re.sub(r"<[^>]+>", " ", section))
    return re.sub(r"\s+", " ", text), downloads


def with_head(tables: dict[str, pd.DataFrame], head: dict[str, object] | None) -> None:
    for field in ANCHOR_FIELDS:
        tables["publication"][f"audit_{field}"] = None if head is None else head[field]


def test_the_steward_page_prints_the_signed_head_and_offers_every_checkpoint(
    tmp_path: Path,
) -> None:
    """Tests that the steward page shows the published head exactly as signed (entry, hash,
    time, key fingerprint, public key, signature), tells the reader to keep it and how it is
    checked, lists the newest checkpoints, and offers every checkpoint as a CSV download whose
    keys and signatures are unaltered."""
    signer = AuditSigner(tmp_path / "audit-signing.key")
    head = signer.sign(1234, "e" * 64, datetime(2026, 7, 1, 9, 30, tzinfo=UTC), "publication")
    record = head.as_record()
    tables = fabricated_tables(ngos=1, periods=("2025-Q3",))
    with_head(tables, record)
    many = [{**record, "seq": s, "reason": "entries", "signature": "a" * 128} for s in range(30)]
    tables["audit_checkpoints"] = pd.DataFrame([*many, record], columns=list(ANCHOR_FIELDS))

    text, downloads = steward_page(tables, tmp_path)
    assert "Audit log anchor" in text
    for label, value in (
        ("Entry", "1234"),
        ("Hash of the entry (SHA-256 chain)", head.hash),
        ("Signed at (UTC)", "2026-07-01 09:30:00.000000"),
        ("Key fingerprint", head.key_fingerprint),
        ("Public key (Ed25519, hex)", head.public_key),
        ("Signature (hex)", head.signature),
    ):
        assert f"{label} {value}" in text
    assert "Keep a copy of this head" in text
    assert "outcomes audit --verify --against audit_anchor.json" in text
    assert "newest first (20 of 31" in text
    assert "without a signature" not in text

    rows = list(
        csv.DictReader(io.StringIO(downloads.files["downloads/steward/audit-checkpoints.csv"]))
    )
    assert len(rows) == 31
    assert rows[0]["public_key"] == head.public_key
    assert rows[0]["signature"] == head.signature


def test_an_unsigned_head_is_said_to_prove_nothing(tmp_path: Path) -> None:
    """Tests that a head published without a signature is shown with a sentence saying that
    on its own it proves nothing."""
    tables = fabricated_tables(ngos=1, periods=("2025-Q3",))
    with_head(tables, {**FAKE_HEAD, "signature": None, "public_key": None, "key_fingerprint": None})
    text, _ = steward_page(tables, tmp_path)
    assert "published without a signature" in text
    assert "proves nothing about the log's history" in text


def test_a_publication_of_an_empty_log_says_there_is_no_head(tmp_path: Path) -> None:
    """Tests that a zone published while the audit log was empty says so instead of an empty
    table."""
    tables = fabricated_tables(ngos=1, periods=("2025-Q3",))
    with_head(tables, None)
    tables["audit_checkpoints"] = tables["audit_checkpoints"].iloc[0:0]
    text, downloads = steward_page(tables, tmp_path)
    assert "there is no head to sign yet" in text
    assert "downloads/steward/audit-checkpoints.csv" not in downloads.files
