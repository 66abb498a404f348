"""The hand-over protocol: a manifest parses and validates itself, whatever bytes arrive."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.standard.contract import load_contract
from pipelines.standard.handover import (
    MANIFEST_VERSION,
    Manifest,
    ManifestError,
    arrow_schema,
)
from pipelines.standard.limits import MANIFEST_BYTES

SHA = "ab" * 32


def _manifest(**changes: Any) -> Manifest:
    fields: dict[str, Any] = {
        "ngo_id": "ngo-0042",
        "period": "2025-Q3",
        "dataset": "episodes",
        "contract": "episodes.v1",
        "contract_version": "1.0.0",
        "sha256": SHA,
        "rows": 4,
        "submitted_on": date(2025, 10, 2),
        "columns": ("client_id", "episode_id"),
        "submitted_at": datetime(2025, 10, 2, 9, 30, tzinfo=UTC),
        "tool": "outcome-hub test",
    }
    return Manifest(**{**fields, **changes})


def test_a_manifest_reads_back_what_it_writes() -> None:
    """Tests that a manifest written as JSON parses back to an equal manifest, with the
    submission id derived from its period, NGO, dataset and hash."""
    manifest = _manifest()
    assert manifest.submission_id == "2025-Q3.ngo-0042.episodes." + SHA[:12]
    assert Manifest.parse(manifest.to_json()) == manifest


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ngo_id": "../etc"}, "ngo_id"),
        ({"period": "2025-Q5"}, "period"),
        ({"dataset": "clients"}, "dataset"),
        ({"sha256": "not-hex"}, "sha256"),
        ({"rows": -1}, "rows"),
        ({"rows": True}, "rows"),
        ({"manifest_version": MANIFEST_VERSION + 1}, "manifest_version"),
        ({"submission_id": "2025-Q3.ngo-9999.episodes." + SHA[:12]}, "submission_id"),
    ],
)
def test_a_manifest_that_lies_is_refused_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    """Tests that each invalid field is refused with a ManifestError naming that field."""
    with pytest.raises(ManifestError, match=field.replace("_", "[_ ]")) as caught:
        _manifest(**change)
    assert caught.value.field == field


def test_a_refusal_never_repeats_what_the_sender_wrote() -> None:
    """Tests that a manifest whose NGO id holds a person's name is refused without the name."""
    with pytest.raises(ManifestError) as caught:
        _manifest(ngo_id="Aroha Ngata, 12 Kauri St")
    assert "Aroha" not in str(caught.value)
    assert caught.value.field == "ngo_id"


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"rows": "many"}, "rows"),
        ({"submitted_on": "yesterday"}, "submitted_on"),
        ({"submitted_at": "2025-10-02T09:30:00"}, "submitted_at"),
        ({"columns": ["ok", "Not A Column"]}, "columns"),
        ({"dropped_columns": ["notes"]}, "dropped_columns"),
        ({"manifest_version": "1"}, "manifest_version"),
    ],
)
def test_a_manifest_with_wrong_types_is_refused(doc: dict[str, Any], field: str) -> None:
    """Tests that JSON values of the wrong type are refused with the field named."""
    good = json.loads(_manifest().to_json())
    with pytest.raises(ManifestError) as caught:
        Manifest.parse(json.dumps({**good, **doc}).encode())
    assert caught.value.field == field


def test_a_manifest_over_the_size_limit_is_refused_before_it_is_decoded() -> None:
    """Tests that a manifest over manifest_bytes is refused, naming the limit, unparsed."""
    with pytest.raises(ManifestError, match="over the limit `manifest_bytes`"):
        Manifest.parse(b"{" + b" " * MANIFEST_BYTES.value + b"}")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_any_bytes_are_a_manifest_or_a_clear_refusal(data: bytes) -> None:
    """Tests that arbitrary bytes give either a valid manifest or a ManifestError, never another
    exception."""
    message = ""
    try:
        Manifest.parse(data)
    except ManifestError as error:
        message = error.message or "(empty)"
    assert message != "(empty)"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(json.loads(_manifest().to_json()))), _json))
def test_any_json_object_is_a_manifest_or_a_clear_refusal(changes: dict[str, Any]) -> None:
    """Tests that replacing any manifest fields with any JSON values gives a valid manifest or a
    ManifestError, never another exception, and that the error never echoes a value."""
    doc = {**json.loads(_manifest().to_json()), **changes}
    message = ""
    try:
        Manifest.parse(json.dumps(doc).encode())
    except ManifestError as error:
        message = error.message
    for value in changes.values():
        if isinstance(value, str) and len(value) > 6:
            assert value not in message
            assert repr(value) not in message


def test_the_sanitised_schema_is_the_contract_columns_then_the_source_row() -> None:
    """Tests that the payload schema lists the contract's columns in order, then source_row."""
    contract = load_contract("assessments")
    schema = arrow_schema(contract)
    assert schema.names == [*contract.column_names, "source_row"]


def test_a_manifest_with_only_the_required_fields_reads_back_too() -> None:
    """Tests that a manifest whose optional fields are left at their defaults (no tool, no
    time of submission) is written and read back unchanged."""
    manifest = _manifest(tool="", submitted_at=None, columns=())
    assert Manifest.parse(manifest.to_json()) == manifest
