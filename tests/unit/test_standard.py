"""Reporting periods and the names that become paths: parsed strictly, refused with the form."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipelines.home import Home
from pipelines.ngo.folder import NgoHome
from pipelines.standard.names import (
    check_dataset,
    check_ngo_id,
    check_submission_id,
    submission_id,
)
from pipelines.standard.periods import Period, parse_range


def test_a_period_parses_and_knows_its_first_and_last_day() -> None:
    """Tests that 2026-Q3 is July to September 2026 and prints as it was written."""
    period = Period.parse("2026-Q3")
    assert (period.year, period.quarter) == (2026, 3)
    assert (period.start, period.end) == (date(2026, 7, 1), date(2026, 9, 30))
    assert str(period) == "2026-Q3"
    assert Period.parse(" 2026-Q3 ") == period


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
        ("2024-Q1", date(2024, 1, 1), date(2024, 3, 31)),
        ("2026-Q2", date(2026, 4, 1), date(2026, 6, 30)),
        ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
    ],
)
def test_every_quarter_has_the_right_calendar_days(text: str, start: date, end: date) -> None:
    """Tests the first and last day of each quarter, including a leap-year Q1."""
    assert (Period.parse(text).start, Period.parse(text).end) == (start, end)


def test_periods_step_across_year_ends_and_order_in_time() -> None:
    """Tests that next and previous wrap between Q4 and Q1 and that periods sort by time."""
    assert str(Period.parse("2026-Q4").next()) == "2027-Q1"
    assert str(Period.parse("2027-Q1").previous()) == "2026-Q4"
    assert str(Period.parse("2026-Q2").next().previous()) == "2026-Q2"
    assert Period.parse("2025-Q4") < Period.parse("2026-Q1") < Period.parse("2026-Q2")
    assert Period.parse("2026-Q3").window_closes(30) == date(2026, 10, 31)


def test_a_range_of_quarters_lists_every_quarter_in_order_across_year_ends() -> None:
    """Tests that FIRST..LAST gives every quarter from FIRST to LAST, that one quarter is a range
    of one, and that back(3) starts the four quarters ending at a period."""
    assert [str(p) for p in parse_range("2025-Q4..2026-Q3")] == [
        "2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3",
    ]  # fmt: skip
    assert parse_range("2026-Q3") == (Period.parse("2026-Q3"),)
    assert parse_range("2026-Q3..2026-Q3") == (Period.parse("2026-Q3"),)
    assert str(Period.parse("2026-Q2").back(3)) == "2025-Q3"
    assert Period.parse("2025-Q3").through(Period.parse("2025-Q2")) == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-Q3..2025-Q4", r"the range 2026-Q3\.\.2025-Q4 runs backwards: write the earlier "
         r"quarter first, like 2025-Q4\.\.2026-Q3"),
        ("2025-10..2026-09", r"names two quarters written YYYY-Qn.*'2025-10' is not a quarter"),
        ("2025-Q4..", r"'' is not a quarter"),
        ("2025-Q4-2026-Q3", r"'2025-Q4-2026-Q3' is not a quarter"),
        ("2010-Q1..2020-Q1", r"spans 41 quarters; at most 40"),
    ],
    ids=["backwards", "months", "open-ended", "dash", "too-long"],
)  # fmt: skip
def test_a_range_that_is_backwards_or_not_quarters_is_refused(text: str, message: str) -> None:
    """Tests that a period range running backwards, naming months or anything but quarters, or
    spanning more than ten years is refused with the form expected."""
    with pytest.raises(ValueError, match=message):
        parse_range(text)


@pytest.mark.parametrize("text", ["2026-Q5", "2026-Q0", "2026Q3", "26-Q3", "Q3-2026", "../x", ""])
def test_a_period_not_written_yyyy_qn_is_refused_with_the_form(text: str) -> None:
    """Tests that anything but YYYY-Qn is refused with a message showing the expected form."""
    with pytest.raises(ValueError, match=r"period must be written YYYY-Qn, like 2026-Q3"):
        Period.parse(text)


def test_a_period_outside_the_supported_years_is_refused() -> None:
    """Tests that a year outside 2000-2100 is refused with the year named."""
    with pytest.raises(ValueError, match="period year must be between 2000 and 2100, got 1999"):
        Period.parse("1999-Q1")
    with pytest.raises(ValueError, match="quarter must be 1 to 4, got 5"):
        Period(2026, 5)


@pytest.mark.parametrize("text", ["ngo-0042", "abc", "a1b", "ngo-" + "9" * 36])
def test_ngo_ids_of_the_documented_form_are_accepted(text: str) -> None:
    """Tests that 3-40 lower-case letters, digits and inner hyphens pass unchanged."""
    assert check_ngo_id(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "../x",
        "../../etc",
        "A",
        "ngo_1",
        "NGO-0042",
        "-ngo",
        "ngo-",
        "ab",
        "n" * 41,
        "ngo/1",
        "ngo 1",
    ],
)
def test_ngo_ids_that_could_escape_a_folder_are_refused(text: str) -> None:
    """Tests that ../x, upper case, underscores, edge hyphens and bad lengths are refused,
    with the expected form in the message."""
    with pytest.raises(ValueError, match=r"NGO id must be 3 to 40 .* like ngo-0042"):
        check_ngo_id(text)


def test_home_never_builds_a_path_from_an_unchecked_name(tmp_path: Path) -> None:
    """Tests that the hub's folder layout refuses a submission id like ../x, and the NGO's
    folder layout an NGO id like ../x."""
    with pytest.raises(ValueError, match="NGO id must be"):
        NgoHome(tmp_path).ngo_dir("../x")
    with pytest.raises(ValueError, match="NGO id must be"):
        NgoHome(tmp_path).outbox("../x")
    with pytest.raises(ValueError, match="not a submission id"):
        Home(tmp_path).inbox_item("../x")


def test_datasets_and_submission_ids_are_checked() -> None:
    """Tests dataset names and that a submission id built from parts passes its own check."""
    assert check_dataset("episodes") == "episodes"
    with pytest.raises(ValueError, match="dataset must be one of episodes, assessments"):
        check_dataset("clients")
    sid = submission_id("2026-Q3", "ngo-0042", "episodes", "ab" * 32)
    assert sid == "2026-Q3.ngo-0042.episodes.abababababab"
    assert check_submission_id(sid) == sid
    with pytest.raises(ValueError, match="not a submission id"):
        check_submission_id("2026-Q3.ngo-0042.episodes.ABABABABABAB")
