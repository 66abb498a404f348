"""Bad input gets a clear error and loses nothing: one test per kind of bad input.

Every test goes through the real command line (``outcomes submit``) and checks
what the NGO coordinator sees (exit code, terminal, report.json), that the
NGO's own file is byte-identical afterwards, and that nothing was packed to be
sent: the NGO's outbox and what it keeps of accepted files are exactly as they
were. (What the hub answers to bad uploads is tested against a real server in
``tests/service``.)
"""

from __future__ import annotations

import builtins
import io
import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ngo_helpers import ACCEPTED_HERE

from pipelines.ngo.folder import NgoHome
from pipelines.ngo.outbox import waiting
from pipelines.standard.contract import Contract
from pipelines.standard.limits import FILE_BYTES

NGO = "ngo-0042"


def sent_state(
    ngo_home: NgoHome, tree: Callable[[Path], dict[str, str]]
) -> dict[str, dict[str, str]]:
    """What the NGO has packed to send, file by file: its outbox, the receipts it holds and
    the pseudonymised keys it keeps of accepted files."""
    return {
        "outbox": tree(ngo_home.outbox(NGO)),
        "receipts": tree(ngo_home.receipts(NGO)),
        "accepted": tree(ngo_home.accepted(NGO)),
    }


def reports(ngo_home: NgoHome) -> set[Path]:
    """Every report.json the NGO side has written for this NGO."""
    return set(ngo_home.reports(NGO).glob("*/report.json"))


def read_report(path: Path) -> dict[str, Any]:
    assert (path.parent / "report.html").is_file()
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def refused(
    ngo_home: NgoHome, files_under: Callable[[Path], dict[str, str]], submit_cli: Callable[..., Any]
) -> Callable[..., tuple[Any, dict[str, Any]]]:
    """Submit a file that must be refused and check that nothing was lost: exit 1, a refused
    report, the NGO's file byte-identical, nothing packed to be sent.
    Returns (result, report.json)."""

    def check(path: Path, dataset: str = "episodes") -> tuple[Any, dict[str, Any]]:
        source_bytes = path.read_bytes()
        sent_before = sent_state(ngo_home, files_under)
        waiting_before = waiting(ngo_home)
        reports_before = reports(ngo_home)

        result = submit_cli(path, dataset=dataset)

        assert result.exit_code == 1, result.output
        assert "Refused" in result.output
        assert path.read_bytes() == source_bytes
        assert sent_state(ngo_home, files_under) == sent_before
        assert waiting(ngo_home) == waiting_before
        (new,) = reports(ngo_home) - reports_before
        report = read_report(new)
        assert report["status"] == "refused"
        assert report["submission_id"] is None
        return result, report

    return check


def _rules(report: dict[str, Any]) -> set[str]:
    return {f["rule"] for f in report["failures"]}


def _failure(report: dict[str, Any], rule: str) -> dict[str, Any]:
    (found,) = [f for f in report["failures"] if f["rule"] == rule]
    return found


def test_an_empty_file_is_refused_as_having_no_rows(ngo_files: Path, refused: Any) -> None:
    """Tests that a zero-byte file is refused with rule file.has_rows and 'is empty' on screen."""
    path = ngo_files / "episodes.csv"
    path.write_bytes(b"")
    result, report = refused(path)
    assert _rules(report) == {"file.has_rows"}
    assert "file.has_rows" in result.output
    assert "episodes.csv is empty" in result.output


def test_a_header_only_file_is_refused_as_having_no_rows(
    write_csv: Callable[..., Path], episodes_contract: Contract, refused: Any
) -> None:
    """Tests that a file with a valid header and no data rows is refused with file.has_rows."""
    path = write_csv("episodes.csv", [], header=episodes_contract.column_names)
    result, report = refused(path)
    assert _rules(report) == {"file.has_rows"}
    assert "file.has_rows" in result.output
    assert "only a header" in _failure(report, "file.has_rows")["fix"]


_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.mark.parametrize(
    ("content", "rule", "says"),
    [
        pytest.param(_PNG, "file.readable", "binary file", id="png-image"),
        pytest.param(
            random.Random(7).randbytes(4096), "file.readable", "binary file", id="random-bytes"
        ),
        # Bytes that are neither UTF-8 nor contain a NUL must not be mistaken for a CSV
        # with an odd delimiter: they hold a tab, a semicolon and a bar by chance.
        pytest.param(bytes(range(1, 256)) * 4, "file.encoding", "not UTF-8", id="no-nul-bytes"),
    ],
)
def test_a_binary_file_is_refused_as_unreadable(
    ngo_files: Path, refused: Any, content: bytes, rule: str, says: str
) -> None:
    """Tests that an image or random bytes named .csv are refused as not CSV text, not misread."""
    path = ngo_files / "episodes.csv"
    path.write_bytes(content)
    result, report = refused(path)
    assert _rules(report) == {rule}
    assert rule in result.output
    assert says in _failure(report, rule)["description"]


def test_a_semicolon_separated_file_is_refused_naming_the_delimiter(
    write_csv: Callable[..., Path], episode_rows: Callable[..., Any], refused: Any
) -> None:
    """Tests that a CSV saved with semicolons is refused with file.delimiter and the fix to use commas."""
    path = write_csv("episodes.csv", episode_rows(), delimiter=";")
    result, report = refused(path)
    assert _rules(report) == {"file.delimiter"}
    assert "semicolons" in _failure(report, "file.delimiter")["description"]
    assert "comma delimited" in _failure(report, "file.delimiter")["fix"]
    assert "file.delimiter" in result.output


def test_a_missing_required_column_is_refused_naming_the_column(
    write_csv: Callable[..., Path], episode_rows: Callable[..., Any], refused: Any
) -> None:
    """Tests that an extract without its programme column is refused with programme.present."""
    rows = [{k: v for k, v in row.items() if k != "programme"} for row in episode_rows()]
    result, report = refused(write_csv("episodes.csv", rows))
    assert _rules(report) == {"programme.present"}
    assert _failure(report, "programme.present")["columns"] == ["programme"]
    assert "Add a column headed programme" in _failure(report, "programme.present")["fix"]
    assert "programme.present" in result.output


def test_wrong_types_are_refused_naming_column_rule_and_row(
    write_csv: Callable[..., Path], episode_rows: Callable[..., Any], refused: Any
) -> None:
    """Tests that text in sessions and an impossible date (30 February) are refused by row."""
    rows = episode_rows()
    rows[0]["sessions"] = "three"
    rows[1]["start_date"] = "2026-02-30"
    result, report = refused(write_csv("episodes.csv", rows))
    assert _rules(report) == {"sessions.integer", "start_date.date"}
    assert _failure(report, "sessions.integer")["rows"] == [2]
    assert _failure(report, "sessions.integer")["columns"] == ["sessions"]
    assert _failure(report, "start_date.date")["rows"] == [3]
    assert "sessions.integer" in result.output
    assert "start_date.date" in result.output


@pytest.mark.parametrize(
    ("dataset", "column", "value"),
    [("episodes", "sessions", "1500"), ("assessments", "pre_score", "7")],
)
def test_out_of_range_numbers_are_refused_with_the_bounds(
    *,
    write_csv: Callable[..., Path],
    episode_rows: Callable[..., Any],
    assessment_rows: Callable[..., Any],
    submit_cli: Callable[..., Any],
    refused: Any,
    dataset: str,
    column: str,
    value: str,
) -> None:
    """Tests that sessions 1500 and pre_score 7 are refused with the contract's bounds in the fix."""
    episodes = episode_rows()
    if dataset == "assessments":  # its episodes must be accepted first, so only the range fails
        assert submit_cli(write_csv("episodes.csv", episodes)).exit_code == ACCEPTED_HERE
    rows = episodes if dataset == "episodes" else assessment_rows(episodes)
    rows[0][column] = value
    result, report = refused(write_csv(f"{dataset}-bad.csv", rows), dataset=dataset)
    assert _rules(report) == {f"{column}.range"}
    bounds = {"sessions": "between 0 and 1000", "pre_score": "between 1 and 5"}[column]
    assert bounds in _failure(report, f"{column}.range")["fix"]
    assert _failure(report, f"{column}.range")["rows"] == [2]
    assert f"{column}.range" in result.output


def test_an_unknown_enum_value_is_refused_listing_the_accepted_values(
    write_csv: Callable[..., Path],
    episode_rows: Callable[..., Any],
    episodes_contract: Contract,
    refused: Any,
) -> None:
    """Tests that a programme outside the contract is refused and the fix lists every accepted value."""
    rows = episode_rows()
    rows[2]["programme"] = "underwater_basket_weaving"
    result, report = refused(write_csv("episodes.csv", rows))
    assert _rules(report) == {"programme.accepted_values"}
    failure = _failure(report, "programme.accepted_values")
    assert failure["rows"] == [4]
    for accepted in episodes_contract.column("programme").accepted_values:
        assert accepted in failure["fix"]
    assert "programme.accepted_values" in result.output


def test_a_duplicate_episode_id_is_refused_naming_both_rows(
    write_csv: Callable[..., Path], episode_rows: Callable[..., Any], refused: Any
) -> None:
    """Tests that two rows with one episode_id are refused with episode_id.unique and both rows."""
    rows = episode_rows()
    rows[3]["episode_id"] = rows[1]["episode_id"]
    result, report = refused(write_csv("episodes.csv", rows))
    assert _rules(report) == {"episode_id.unique"}
    assert _failure(report, "episode_id.unique")["rows"] == [3, 5]
    assert "episode_id.unique" in result.output


def test_an_episode_ending_before_it_starts_is_refused(
    write_csv: Callable[..., Path], episode_rows: Callable[..., Any], refused: Any
) -> None:
    """Tests that an end_date before its start_date is refused by rule end-not-before-start."""
    rows = episode_rows()
    rows[1]["start_date"], rows[1]["end_date"] = "2025-08-20", "2025-08-10"
    result, report = refused(write_csv("episodes.csv", rows))
    assert _rules(report) == {"end-not-before-start"}
    assert set(_failure(report, "end-not-before-start")["columns"]) == {"start_date", "end_date"}
    assert _failure(report, "end-not-before-start")["rows"] == [3]
    assert "end-not-before-start" in result.output


@pytest.mark.parametrize(
    ("column", "rule"), [("start_date", "start-not-in-future"), ("end_date", "end-not-in-future")]
)
def test_dates_in_the_future_are_refused(
    write_csv: Callable[..., Path],
    episode_rows: Callable[..., Any],
    refused: Any,
    column: str,
    rule: str,
) -> None:
    """Tests that a start or end date after the day of submission is refused as a typing error."""
    rows = episode_rows()
    rows[1][column] = "2099-08-10"
    result, report = refused(write_csv("episodes.csv", rows))
    assert rule in _rules(report)
    assert _failure(report, rule)["rows"] == [3]
    assert rule in result.output


class _ReadCounter:
    """Counts the bytes Python code reads from one file, however it opens it."""

    def __init__(self, target: Path) -> None:
        self.target = target.resolve()
        self.bytes_read = 0

    def patch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_open = builtins.open
        counter = self

        class CountingFileIO(io.FileIO):
            def readinto(self, buffer: Any) -> int | None:
                n = super().readinto(buffer)
                counter.bytes_read += n or 0
                return n

            def readall(self) -> bytes:
                data = super().readall()
                counter.bytes_read += len(data)
                return data

        def counting_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            is_target = isinstance(file, str | Path) and Path(file).resolve() == counter.target
            if not is_target or "b" not in mode or any(m in mode for m in "wax+"):
                return real_open(file, mode, *args, **kwargs)
            return io.BufferedReader(CountingFileIO(str(file), "r"))

        monkeypatch.setattr(builtins, "open", counting_open)
        monkeypatch.setattr(io, "open", counting_open)


def test_a_200_mb_file_is_refused_at_once_with_the_size_limit(
    ngo_files: Path,
    ngo_home: NgoHome,
    files_under: Callable[[Path], dict[str, str]],
    submit_cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tests that a 200 MB extract is refused by file.size, naming the limit, after reading
    at most its first block (never the whole file)."""
    path = ngo_files / "episodes.csv"
    with path.open("wb") as fh:  # sparse: 200 MB on paper, almost nothing on disk
        fh.write(b"client_id,episode_id\n")
        fh.truncate(200 * 1024 * 1024)
    stat_before = path.stat()
    counter = _ReadCounter(path)
    before = sent_state(ngo_home, files_under)

    with monkeypatch.context() as patched:
        counter.patch(patched)
        result = submit_cli(path)

    assert counter.bytes_read <= 1024 * 1024, f"read {counter.bytes_read:,} bytes of the file"
    stat_after = path.stat()
    assert (stat_after.st_size, stat_after.st_mtime_ns) == (
        stat_before.st_size,
        stat_before.st_mtime_ns,
    )
    assert result.exit_code == 1
    assert sent_state(ngo_home, files_under) == before
    (path_of_report,) = reports(ngo_home)
    report = read_report(path_of_report)
    assert _rules(report) == {"file.size"}
    limit = str(FILE_BYTES)  # the limit `file_bytes` (100 MB): named, with its value
    assert limit in _failure(report, "file.size")["description"]
    assert limit in " ".join(result.output.split())
    assert "200 MB" in result.output


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--ngo", "../x"),
        ("--ngo", "../../etc"),
        ("--ngo", "A"),
        ("--ngo", "ngo_1"),
        ("--ngo", "NGO-0042"),
        ("--ngo", "-ngo"),
        ("--period", "../x"),
        ("--period", "../../etc"),
        ("--period", "2026-Q5"),
        ("--period", "2026Q3"),
        ("--period", "Q3-2026"),
        ("--dataset", "../episodes"),
    ],
)
def test_an_ngo_period_or_dataset_not_of_the_documented_form_is_a_usage_error(
    *,
    tmp_path: Path,
    episodes_csv: Path,
    ngo_home: NgoHome,
    run_cli: Callable[..., Any],
    files_under: Callable[[Path], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    option: str,
    value: str,
) -> None:
    """Tests that ids like ../x exit 2 with the expected form named, creating no folder anywhere."""
    monkeypatch.chdir(tmp_path)
    arguments = {"--ngo": NGO, "--period": "2025-Q3", "--dataset": "episodes"}
    arguments[option] = value
    before = files_under(tmp_path)
    source_bytes = episodes_csv.read_bytes()

    result = run_cli(
        "submit",
        episodes_csv,
        *[x for pair in arguments.items() for x in pair],
        "--ngo-home",
        ngo_home.root,
    )

    assert result.exit_code == 2, result.output
    assert option in result.output
    expected = {"--ngo": "like ngo-0042", "--period": "like 2026-Q3", "--dataset": "episodes"}
    assert expected[option] in " ".join(result.output.split())
    assert files_under(tmp_path) == before
    if value.startswith(".."):  # where the text would have led, from any folder a path is made in
        for base in (tmp_path, ngo_home.root, ngo_home.root / NGO, ngo_home.root / NGO / "reports"):
            assert not Path(os.path.normpath(base / value)).exists()
    assert not ngo_home.root.exists()
    assert episodes_csv.read_bytes() == source_bytes


def _assert_nothing_holds(values: list[str], ngo_home: NgoHome, output: str) -> None:
    """No file anywhere in the NGO's folder (reports, logs, keys, outbox) and no terminal line
    holds a value."""
    assert all(v not in output for v in values)
    for path in ngo_home.root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for value in values:
                assert value.encode() not in data, f"{value!r} found in {path}"


def test_a_name_column_is_refused_and_its_values_are_kept_nowhere(
    write_csv: Callable[..., Path],
    episode_rows: Callable[..., Any],
    ngo_home: NgoHome,
    refused: Any,
) -> None:
    """Tests that a 'First Name' column is refused as a person's name, by column, and that no
    report, log or terminal line holds any of the names."""
    names = ["Wiremu", "Aroha", "Tangaroa", "Mereana"]
    rows = [{**row, "First Name": name} for row, name in zip(episode_rows(), names, strict=True)]
    result, report = refused(write_csv("episodes.csv", rows))
    (finding,) = report["identifiers"]
    assert (finding["column"], finding["kind"], finding["how"]) == (
        "first_name",
        "person_name",
        "name",
    )
    assert "first_name" in result.output
    assert "a person's name" in result.output
    _assert_nothing_holds(names, ngo_home, result.output)


def test_nhi_numbers_in_any_column_are_refused_and_kept_nowhere(
    write_csv: Callable[..., Path],
    episode_rows: Callable[..., Any],
    ngo_home: NgoHome,
    refused: Any,
) -> None:
    """Tests that valid NHI numbers in a contract column and in an extra column are refused by
    value, naming both columns and rows, and that no report, log or terminal line holds them."""
    nhis = ["ZZZ0016", "ZZZ0024", "ZAC5361"]
    rows = episode_rows()
    rows[0]["client_id"] = nhis[0]
    for row in rows:
        row["notes"] = "seen weekly"
    rows[2]["notes"] = f"ref {nhis[1]} per GP"
    rows[3]["notes"] = nhis[2].lower()
    result, report = refused(write_csv("episodes.csv", rows))
    found = {(f["column"], f["kind"]): f for f in report["identifiers"]}
    assert set(found) == {("client_id", "nhi"), ("notes", "nhi")}
    assert found[("client_id", "nhi")]["rows"] == [2]
    assert found[("notes", "nhi")]["rows"] == [4, 5]
    assert "an NHI number" in result.output
    _assert_nothing_holds([*nhis, nhis[2].lower()], ngo_home, result.output)


def test_an_ngo_key_readable_by_others_stops_submission_with_the_fix(
    *,
    episodes_csv: Path,
    write_csv: Callable[..., Path],
    episode_rows: Callable[..., Any],
    ngo_home: NgoHome,
    submit_cli: Callable[..., Any],
    files_under: Callable[[Path], dict[str, str]],
) -> None:
    """Tests that when the NGO's secret key has become readable by others, submit exits 1 with
    the chmod that fixes it (no traceback) and packs nothing."""
    assert submit_cli(episodes_csv).exit_code == ACCEPTED_HERE
    key_path = ngo_home.key_file(NGO)
    key_path.chmod(0o644)
    before = sent_state(ngo_home, files_under)
    rows = episode_rows()
    rows[0]["sessions"] = "7"

    result = submit_cli(write_csv("episodes-v2.csv", rows))

    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "can be read by other users" in result.output
    assert "chmod 600" in result.output
    assert "Traceback" not in result.output
    assert sent_state(ngo_home, files_under) == before
