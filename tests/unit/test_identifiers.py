"""Direct-identifier detection: names, values, checksums, batches; findings hold no values."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.standard.contract import (
    Contract,
    ContractError,
    ForbiddenIdentifier,
    ValuePattern,
    load_contract,
)
from pipelines.validation.extract import normalise_header
from pipelines.validation.identifiers import (
    MAX_ROWS_LISTED,
    IdentifierFinding,
    find_direct_identifiers,
    ird_is_valid,
    nhi_is_valid,
)

HEX = "0123456789abcdef"


@pytest.fixture(scope="module")
def episodes() -> Contract:
    return load_contract("episodes")


def _clean_episodes(n: int, contract: Contract) -> dict[str, list[str | None]]:
    """n rows of the kind of clean values the hub sees: hashes, enum values, ISO dates, counts."""
    rng = np.random.default_rng(7)

    def pick(column: str) -> list[str | None]:
        values = contract.column(column).accepted_values
        return [values[i] for i in rng.integers(0, len(values), n)]

    return {
        "client_id": ["".join(rng.choice(list(HEX), 32)) for _ in range(n)],
        "episode_id": ["".join(rng.choice(list(HEX), 32)) for _ in range(n)],
        "programme": pick("programme"),
        "region": pick("region"),
        "age_band": pick("age_band"),
        "gender": pick("gender"),
        "ethnicity": pick("ethnicity"),
        "referral_source": pick("referral_source"),
        "start_date": [f"2026-0{7 + i % 3}-{1 + i % 28:02d}" for i in range(n)],
        "end_date": [None if i % 3 else f"2026-09-{1 + i % 28:02d}" for i in range(n)],
        "sessions": [str(i % 40) for i in range(n)],
        "exit_reason": pick("exit_reason"),
        "consent_aggregate": ["true" if i % 5 else "false" for i in range(n)],
    }


def _frame(columns: dict[str, list[str | None]], first_row: int = 2) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    frame = pd.DataFrame({name: pd.array(values, dtype="str") for name, values in columns.items()})
    frame["_row"] = np.arange(first_row, first_row + n)
    return frame


def _by(findings: list[IdentifierFinding]) -> dict[tuple[str, str, str], IdentifierFinding]:
    return {(f.column, f.kind, f.how): f for f in findings}


# --- checksums -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "nhi",
    # Old format, the Ministry's test range and routine examples; new format (mod 23,
    # HISO 10046:2023), the routine's worked examples and Health NZ compliance test data.
    [
        *("ZZZ0016", "ZZZ0024", "ZAC5361", "JBX3656", "zzz0016"),
        *("ZZZ00AC", "ZVU27KE", "ZBN77VL", "ZXE24NV", "ZUA48EH", "ZYZ89XY", "zbn77vl"),
    ],
)
def test_nhi_checksum_accepts_published_valid_numbers(nhi: str) -> None:
    """Tests that published valid NHI numbers, old and new format, any case, pass the check."""
    assert nhi_is_valid(nhi)


@pytest.mark.parametrize(
    "text",
    # ZZZ0044: remainder 0, no check digit can complete it; ZZZ00AX: valid only under the
    # superseded mod-24 draft; ZIZ0016: I is not in the NHI alphabet.
    [
        *("ZZZ0017", "ZZZ0044", "JBX3657", "DAB8233", "ZZZ00AA", "ZZZ00AX", "ZVU27KF"),
        *("ZYZ89XX", "ZIZ0016", "ZZZ001", "ZZZ00166", "1234567", "ZZZ 0016"),
    ],
)
def test_nhi_checksum_refuses_look_alikes(text: str) -> None:
    """Tests that NHI look-alikes with a wrong check character or shape fail the check."""
    assert not nhi_is_valid(text)


@pytest.mark.parametrize("ird", ["49091850", "35901981", "49098576", "136410132", "49-091-850"])
def test_ird_checksum_accepts_the_specifications_valid_examples(ird: str) -> None:
    """Tests that Inland Revenue's worked examples pass, incl. one needing the secondary weights."""
    assert ird_is_valid(ird)


@pytest.mark.parametrize(
    "text", ["136410133", "9125568", "150000001", "09999999", "49-0918-50", "49091851", "4909185a"]
)
def test_ird_checksum_refuses_invalid_and_out_of_range_numbers(text: str) -> None:
    """Tests that a wrong check digit, a bad shape or a number outside 10-150 million fails."""
    assert not ird_is_valid(text)


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("First Name", "person_name"),
        ("client_name", "person_name"),
        ("Caregiver-Surname", "person_name"),
        ("Home Address", "address"),
        ("Postcode", "address"),
        ("DOB", "date_of_birth"),
        ("Date of Birth", "date_of_birth"),
        ("Mobile Phone", "phone"),
        ("E-mail", "email"),
        ("nhi_no", "nhi"),
        ("IRD Number", "ird"),
    ],
)
def test_a_column_is_refused_for_its_name(header: str, kind: str, episodes: Contract) -> None:
    """Tests that a column named for an identifier is refused by name, even when empty."""
    frame = _frame({normalise_header(header): ["x", None]})
    findings = find_direct_identifiers(frame, episodes)
    assert [(f.column, f.kind, f.how, f.count, f.rows) for f in findings] == [
        (normalise_header(header), kind, "name", 0, ())
    ]


def test_contract_columns_are_never_refused_for_their_names(episodes: Contract) -> None:
    """Tests that a clean extract with every contract column (client_id too) has no findings."""
    assert find_direct_identifiers(_frame(_clean_episodes(200, episodes)), episodes) == []


def test_clean_assessments_have_no_findings() -> None:
    """Tests that the assessments contract's columns with clean values give no findings either."""
    contract = load_contract("assessments")
    domains = contract.column("domain").accepted_values
    frame = _frame(
        {
            "client_id": ["0f" * 16, "a1" * 16, "9c" * 16],
            "episode_id": ["E-00012345-1", "E-00012346-1", "E-00012347-2"],
            "domain": list(domains[:3]),
            "pre_score": ["1", "3", "5"],
            "post_score": ["2", None, "5"],
            "assessed_by": ["practitioner", "self", None],
        }
    )
    assert find_direct_identifiers(frame, contract) == []


# --- values ----------------------------------------------------------------------------------


def test_nhi_numbers_are_found_in_client_id(episodes: Contract) -> None:
    """Tests that NHI numbers (old and new format) used as client_id are refused by value."""
    columns = _clean_episodes(6, episodes)
    columns["client_id"][1] = "ZZZ0016"
    columns["client_id"][4] = "zbn77vl"
    found = _by(find_direct_identifiers(_frame(columns), episodes))
    assert list(found) == [("client_id", "nhi", "value")]
    assert found["client_id", "nhi", "value"].rows == (3, 6)
    assert found["client_id", "nhi", "value"].count == 2


def test_an_extra_column_full_of_nhi_numbers_is_refused(episodes: Contract) -> None:
    """Tests that a column the contract does not know, holding NHI numbers, is still refused."""
    columns = _clean_episodes(3, episodes)
    columns["legacy_ref"] = ["ZZZ0016", "ZZZ0024", "ZZZ00AC"]
    found = _by(find_direct_identifiers(_frame(columns), episodes))
    assert found["legacy_ref", "nhi", "value"].rows == (2, 3, 4)


@pytest.mark.parametrize(
    ("values", "kind", "rows"),
    [
        (["ref 49-091-850", "136410132", "12", None], "ird", (2, 3)),
        (["please email jo.bloggs@example.co.nz today", "no", "x@y", None], "email", (2,)),
        (
            ["021 123 4567", "+64 21 123 4567", "09-123-4567", "(09) 123 4567"],
            "phone",
            (2, 3, 4, 5),
        ),
        (["0800 123 456", "64211234567", "a", "0211234567"], "phone", (2, 3, 5)),
        (["03/04/1990", "1990-04-03", "1990-4-3 00:00:00", "in 1990"], "date_of_birth", (2, 3, 4)),
        (["seen by ZZZ0016 on", "ZZZ0016", "ZZZ00AC.", "nhi?"], "nhi", (2, 3, 4)),
    ],
)
def test_identifiers_are_found_by_value_in_a_free_text_column(
    values: list[str | None], kind: str, rows: tuple[int, ...], episodes: Contract
) -> None:
    """Tests that IRD numbers, emails, NZ phones, dates and NHIs in a notes column are found."""
    found = find_direct_identifiers(_frame({"notes": values}), episodes)
    assert [(f.column, f.kind, f.how, f.rows) for f in found] == [("notes", kind, "value", rows)]


def test_a_born_column_is_refused_by_name_and_by_value(episodes: Contract) -> None:
    """Tests that dates of birth under a telling name give two findings: its name and its values."""
    found = _by(find_direct_identifiers(_frame({"born": ["1990-04-03", None]}), episodes))
    assert set(found) == {("born", "date_of_birth", "name"), ("born", "date_of_birth", "value")}
    assert found["born", "date_of_birth", "value"].rows == (2,)


def test_dates_in_start_and_end_date_are_not_dates_of_birth(episodes: Contract) -> None:
    """Tests that ISO dates in the exempt columns start_date and end_date are not flagged."""
    columns = _clean_episodes(5, episodes)
    columns["start_date"] = ["1990-04-03", "2026-07-01", "2026-07-02", "2026-07-03", "2026-07-04"]
    columns["end_date"] = ["2026-09-30", None, "2026-08-01", "1985-1-2", None]
    assert find_direct_identifiers(_frame(columns), episodes) == []


@pytest.mark.parametrize(
    "value", ["ZZZ0017", "ZZZ00AA", "ZZZ00AX", "136410133", "49-091-851", "9125568", "ZIZ0016"]
)
def test_checksum_failing_look_alikes_are_not_flagged(value: str, episodes: Contract) -> None:
    """Tests that NHI and IRD look-alikes with a wrong check digit are not flagged in any column."""
    columns = _clean_episodes(2, episodes)
    columns["client_id"][0] = value
    columns["notes"] = [f"ref {value}", value]
    assert find_direct_identifiers(_frame(columns), episodes) == []


@pytest.mark.parametrize(
    "value",
    [
        *("0123456789abcdef0123456789abcdef", "C-0012345", "E-00012345-1", "7", "1000"),
        *("Hawkes Bay", "unknown", "65+", "TRUE", "2026-Q3", "12-17"),
    ],
)
def test_ordinary_values_are_never_flagged(value: str, episodes: Contract) -> None:
    """Tests that hashes, NGO references, counts and enum-like values are never identifiers."""
    frame = _frame({"client_id": [value], "episode_id": [value], "notes": [value]})
    assert find_direct_identifiers(frame, episodes) == []


# --- rows, batches, order, privacy -----------------------------------------------------------


def test_rows_are_the_frames_row_numbers_ascending_and_capped(episodes: Contract) -> None:
    """Tests that rows come from _row (not positions), ascending, at most 1000, count uncapped."""
    n = 2500
    frame = _frame({"notes": ["ZZZ0016" if i % 2 else "fine" for i in range(n)]}, first_row=10)
    frame = frame.iloc[::-1].reset_index(drop=True)  # a batch need not be in row order
    (finding,) = find_direct_identifiers(frame, episodes)
    assert finding.count == n // 2
    assert len(finding.rows) == MAX_ROWS_LISTED
    assert finding.rows == tuple(range(11, 11 + 2 * MAX_ROWS_LISTED, 2))


def test_batch_mode_reports_per_submission(episodes: Contract) -> None:
    """Tests that with _submission each submission gets its own findings, with its own rows."""
    frame = _frame(
        {
            "client_id": ["ZZZ0016", "ab" * 16, "ZZZ0024", "cd" * 16],
            "first_name": [None, None, "Aroha", None],
        }
    )
    frame["_row"] = [2, 3, 2, 3]
    b, a, c = "2026-Q3.ngo-b.episodes.x", "2026-Q3.ngo-a.episodes.y", "2026-Q3.ngo-c.episodes.z"
    frame["_submission"] = [b, b, a, c]
    found = [
        (f.submission, f.column, f.kind, f.how, f.rows)
        for f in find_direct_identifiers(frame, episodes)
    ]
    assert found == [
        ("2026-Q3.ngo-a.episodes.y", "client_id", "nhi", "value", (2,)),
        ("2026-Q3.ngo-a.episodes.y", "first_name", "person_name", "name", ()),
        ("2026-Q3.ngo-b.episodes.x", "client_id", "nhi", "value", (2,)),
    ]


def test_findings_are_sorted_and_unique_per_column_kind_and_how(episodes: Contract) -> None:
    """Tests that findings are sorted by column, kind and how, one per combination."""
    frame = _frame(
        {
            "phone": ["021 123 4567", "09 123 4567"],
            "notes": ["jo@example.com", "ZZZ0016 and ZZZ0024"],
            "email": ["x", "y"],
        }
    )
    found = [(f.column, f.kind, f.how) for f in find_direct_identifiers(frame, episodes)]
    assert found == sorted(found)
    assert found == [
        ("email", "email", "name"),
        ("notes", "email", "value"),
        ("notes", "nhi", "value"),
        ("phone", "phone", "name"),
        ("phone", "phone", "value"),
    ]


def test_findings_never_carry_a_value(episodes: Contract) -> None:
    """Tests that no planted identifier appears anywhere in the findings' repr."""
    planted = {
        "client_id": "ZZZ0024",
        "notes": "write to aroha.ngata@example.org.nz",
        "phone": "+64 21 555 0199",
        "born": "07/11/1988",
        "ird": "136-410-132",
        "tax": "35901981",
        "first_name": "Aroha",
    }
    found = find_direct_identifiers(_frame({k: [v] for k, v in planted.items()}), episodes)
    assert {f.column for f in found} == set(planted)
    text = repr(found)
    for value in planted.values():
        assert value not in text
    for secret in ("ZZZ0024", "aroha.ngata", "555 0199", "1988", "410", "35901981"):
        assert secret not in text


def test_a_large_frame_finds_the_few_planted_identifiers(episodes: Contract) -> None:
    """Tests the parallel, distinct-value path: 120,000 clean rows with three planted NHIs."""
    columns = _clean_episodes(120_000, episodes)
    for i in (5, 60_000, 119_999):
        columns["sessions"][i] = "ZZZ0016"
    columns["referral_source"][7] = "jo@example.com"
    found = _by(find_direct_identifiers(_frame(columns), episodes))
    assert set(found) == {("sessions", "nhi", "value"), ("referral_source", "email", "value")}
    assert found["sessions", "nhi", "value"].rows == (7, 60_002, 120_001)
    assert found["referral_source", "email", "value"].rows == (9,)


def test_a_frame_without_row_numbers_is_refused(episodes: Contract) -> None:
    """Tests that a frame without _row is a programming error with a clear message."""
    with pytest.raises(ValueError, match="needs a '_row' column"):
        find_direct_identifiers(pd.DataFrame({"notes": ["a"]}), episodes)


def test_a_pattern_re2_cannot_compile_is_a_contract_error(episodes: Contract) -> None:
    """Tests that a contract pattern outside RE2's syntax fails loudly, naming the kind."""
    broken = ForbiddenIdentifier(
        kind="lookbehind",
        label="a test",
        column_names=(),
        column_patterns=(),
        value_patterns=(ValuePattern(pattern=r"(?<=x)y", scope="token"),),
        exempt_columns=(),
    )
    contract = dataclasses.replace(episodes, forbidden_identifiers=(broken,))
    with pytest.raises(ContractError, match="'lookbehind' does not compile in RE2"):
        find_direct_identifiers(_frame({"notes": ["a"]}), contract)


# --- properties ------------------------------------------------------------------------------

_EPISODES = load_contract("episodes")
_ENUM_COLUMNS = [c for c in _EPISODES.columns if c.enum]


@st.composite
def _clean_rows(draw: st.DrawFn) -> dict[str, list[str | None]]:
    n = draw(st.integers(min_value=1, max_value=20))
    hexes = st.text(alphabet=HEX, min_size=32, max_size=32)
    columns: dict[str, list[str | None]] = {
        "client_id": draw(st.lists(hexes, min_size=n, max_size=n)),
        "episode_id": draw(st.lists(hexes, min_size=n, max_size=n)),
        "sessions": [str(v) for v in draw(st.lists(st.integers(0, 1000), min_size=n, max_size=n))],
    }
    for column in _ENUM_COLUMNS:
        spellings = st.sampled_from([*column.accepted_values, *column.aliases])
        columns[column.name] = draw(st.lists(st.none() | spellings, min_size=n, max_size=n))
    # The same values in a column the contract does not know: no enum mask protects them.
    columns["extra"] = draw(
        st.lists(
            st.sampled_from([v for values in columns.values() for v in values]),
            min_size=n,
            max_size=n,
        )
    )
    return columns


@settings(deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(_clean_rows())
def test_hashes_enum_values_and_counts_never_produce_findings(
    columns: dict[str, list[str | None]],
) -> None:
    """Tests (property) that random 32-hex hashes, enum values and counts never give a finding."""
    assert find_direct_identifiers(_frame(columns), _EPISODES) == []
