"""The sample-sector generator: deterministic, contract-true, sector-shaped, messy on request,
and, over consecutive quarters, the same clients coming back."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml

from pipelines.sample import shape as shape_module
from pipelines.sample.generate import NgoExtract, Sector, generate_quarters, generate_sector
from pipelines.standard.contract import Contract, load_contract
from pipelines.standard.periods import Period, parse_range

PERIOD = Period.parse("2026-Q3")
TODAY = date(2026, 11, 21)
EPISODES = load_contract("episodes")
ASSESSMENTS = load_contract("assessments")

Rows = list[dict[str, str]]
SectorRows = list[tuple[NgoExtract, Rows, Rows]]


def _generate(out: Path, **overrides: Any) -> Sector:
    arguments: dict[str, Any] = {"ngos": 4, "period": PERIOD, "seed": 11, "today": TODAY}
    arguments.update(overrides)
    return generate_sector(out, **arguments)


def _normalised(header: str) -> str:
    return re.sub(r"[\s\-]+", "_", header.replace("\ufeff", "").strip().lower())


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read(path: Path) -> tuple[list[str], Rows]:
    """A file's normalised header and its rows as text, whatever its format."""
    if path.suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True)
        raw = [[_cell(v) for v in row] for row in book.worksheets[0].iter_rows(values_only=True)]
        book.close()
    else:
        text = path.read_bytes().decode("utf-8-sig")
        raw = list(csv.reader(io.StringIO(text, newline="")))
    header = [_normalised(h) for h in raw[0]]
    # openpyxl's read-only rows stop at their last filled cell.
    rows = [row + [""] * (len(header) - len(row)) for row in raw[1:]]
    return header, [dict(zip(header, row, strict=True)) for row in rows]


def _raw_header(path: Path) -> list[str]:
    """A file's header exactly as written."""
    if path.suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True)
        first = next(book.worksheets[0].iter_rows(values_only=True))
        book.close()
        return [str(h) for h in first]
    return path.read_bytes().decode("utf-8-sig").splitlines()[0].split(",")


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _summary(ngo: NgoExtract) -> tuple[object, ...]:
    return (ngo.ngo_id, ngo.clients, ngo.episodes, ngo.assessments, ngo.file_format, ngo.messy)


def _sector_rows(sector: Sector) -> Iterator[tuple[NgoExtract, Rows, Rows]]:
    for ngo in sector.ngos:
        yield ngo, _read(ngo.episodes_path)[1], _read(ngo.assessments_path)[1]


@pytest.fixture(scope="module")
def moderate(tmp_path_factory: pytest.TempPathFactory) -> Sector:
    """Thirty NGOs of one quarter, one of them large: enough rows for shares to settle."""
    return _generate(tmp_path_factory.mktemp("moderate"), ngos=30, seed=2026)


@pytest.fixture(scope="module")
def moderate_rows(moderate: Sector) -> SectorRows:
    """The moderate sector's rows, read once for all the tests that look at them."""
    return list(_sector_rows(moderate))


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Sector:
    """Nine small NGOs, all dressed like real exports (seed 11 gives three XLSX ones)."""
    return _generate(tmp_path_factory.mktemp("messy"), ngos=9, messy=True)


# --- determinism -------------------------------------------------------------------------------


def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    """Tests that two runs with the same arguments, messy XLSX included, write identical bytes."""
    first = _generate(tmp_path / "a", ngos=6, messy=True, faulty=1)
    second = _generate(tmp_path / "b", ngos=6, messy=True, faulty=1)
    assert "xlsx" in {n.file_format for n in first.ngos}
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert [_summary(n) for n in first.ngos] == [_summary(n) for n in second.ngos]


def test_a_different_seed_gives_different_data(tmp_path: Path) -> None:
    """Tests that changing the seed changes every NGO's files."""
    _generate(tmp_path / "a", seed=1)
    _generate(tmp_path / "b", seed=2)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a.keys() == b.keys()
    assert all(a[name] != b[name] for name in a)


def test_an_ngo_holds_the_same_data_however_many_ngos_are_generated(tmp_path: Path) -> None:
    """Tests that NGO k's files do not depend on how many NGOs are generated."""
    _generate(tmp_path / "three", ngos=3)
    _generate(tmp_path / "five", ngos=5)
    three, five = _files(tmp_path / "three"), _files(tmp_path / "five")
    assert len(five) == 10
    assert three == {name: five[name] for name in three}


# --- contract-true clean files -----------------------------------------------------------------


def _check_values(contract: Contract, rows: Rows) -> None:
    for column in contract.columns:
        values = [row[column.name] for row in rows]
        filled = [v for v in values if v != ""]
        if column.required:
            assert len(filled) == len(values), f"{column.name} has empty cells"
        if column.enum:
            assert set(filled) <= set(column.accepted_values), column.name
        if column.logical_type == "integer":
            numbers = [int(v) for v in filled]
            assert min(numbers) >= (column.minimum or 0), column.name
            assert max(numbers) <= (column.maximum or 0), column.name
        if column.logical_type == "boolean":
            assert set(filled) <= {"true", "false"}, column.name
        if column.max_length:
            assert max(len(v) for v in filled) <= column.max_length, column.name


@pytest.mark.parametrize(
    ("period", "today"),
    [(PERIOD, TODAY), (Period.parse("2026-Q4"), TODAY)],
    ids=["closed-quarter", "quarter-in-progress"],
)
def test_clean_files_hold_only_contract_values_and_obey_the_date_rules(
    tmp_path: Path, period: Period, today: date
) -> None:
    """Tests that clean files use the contract's columns and values, and no date breaks a rule."""
    sector = _generate(tmp_path, ngos=6, period=period, today=today)
    last = min(period.end, today)
    for ngo, episodes, assessments in _sector_rows(sector):
        assert ngo.file_format == "csv"
        assert ngo.episodes_path.read_bytes().startswith(b"client_id,episode_id,programme,")
        assert b"\r" not in ngo.episodes_path.read_bytes()
        assert _read(ngo.episodes_path)[0] == list(EPISODES.column_names)
        assert _read(ngo.assessments_path)[0] == list(ASSESSMENTS.column_names)
        assert (len(episodes), len(assessments)) == (ngo.episodes, ngo.assessments)
        _check_values(EPISODES, episodes)
        _check_values(ASSESSMENTS, assessments)
        assert len({row["episode_id"] for row in episodes}) == len(episodes)
        for row in episodes:
            start = date.fromisoformat(row["start_date"])
            assert start <= last
            if row["end_date"]:
                end = date.fromisoformat(row["end_date"])
                assert start <= end <= last
                assert end >= period.start
            else:
                assert row["exit_reason"] == ""


def test_a_client_keeps_the_same_demographics_across_episodes(moderate_rows: SectorRows) -> None:
    """Tests that age band, gender and ethnicity are fixed per client, as a real client's are."""
    for _, episodes, _ in moderate_rows:
        seen: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        for row in episodes:
            seen[row["client_id"]].add((row["age_band"], row["gender"], row["ethnicity"]))
        assert all(len(kinds) == 1 for kinds in seen.values())


def test_assessments_reference_existing_episodes_once_per_domain(moderate_rows: SectorRows) -> None:
    """Tests that every assessment row points at an episode of its client, one row per domain."""
    for _, episodes, assessments in moderate_rows:
        known = {(row["client_id"], row["episode_id"]) for row in episodes}
        assert {(row["client_id"], row["episode_id"]) for row in assessments} <= known
        pairs = Counter((row["episode_id"], row["domain"]) for row in assessments)
        assert max(pairs.values()) == 1


def _looks_like_identifier(value: str, contract: Contract) -> str | None:
    """The kind of direct identifier ``value`` matches, ignoring checksums (stricter than hub)."""
    for kind in contract.forbidden_identifiers:
        for pattern in kind.value_patterns:
            text = value.strip()
            if pattern.normalise == "phone_punctuation":
                text = re.sub(r"[\s\-().]", "", text)
            found = re.fullmatch(pattern.pattern, text) if pattern.scope == "cell" else None
            if pattern.scope == "token":
                found = re.search(pattern.pattern, text)
            if found:
                return kind.kind
    return None


def test_ids_never_look_like_direct_identifiers(moderate_rows: SectorRows) -> None:
    """Tests that client and episode ids match no NHI, IRD, phone, email or date pattern."""
    for _, episodes, _ in moderate_rows:
        for row in episodes:
            assert re.fullmatch(r"C-\d{7}", row["client_id"])
            assert re.fullmatch(r"E-\d{8}-\d{1,2}", row["episode_id"])
            for value in (row["client_id"], row["episode_id"]):
                assert _looks_like_identifier(value, EPISODES) is None, value


# --- the sector's shape ------------------------------------------------------------------------


def test_sector_has_many_small_ngos_and_a_large_one(moderate: Sector) -> None:
    """Tests that NGO sizes follow the sector: small ones of 20-300 clients, and one of 5,000+."""
    sizes = sorted(n.clients for n in moderate.ngos)
    assert sizes[-1] >= 5000
    assert sizes[0] >= 20
    assert sizes[-2] <= 300


def test_episode_assessment_and_outcome_shares_look_like_the_sector(
    moderate_rows: SectorRows,
) -> None:
    """Tests the shares the dashboards report: pairs ~55%, satisfaction ~20%, scores improve."""
    episodes = clients = ongoing = paired = satisfied = rows = 0
    changes: list[int] = []
    satisfaction = {
        e.value for e in ASSESSMENTS.column("domain").enum if e.category == "satisfaction"
    }
    for ngo, ep_rows, as_rows in moderate_rows:
        episodes += len(ep_rows)
        clients += ngo.clients
        rows += len(as_rows)
        ongoing += sum(row["end_date"] == "" for row in ep_rows)
        paired += len({row["episode_id"] for row in as_rows if row["post_score"]})
        satisfied += len({row["episode_id"] for row in as_rows if row["domain"] in satisfaction})
        changes += [int(r["post_score"]) - int(r["pre_score"]) for r in as_rows if r["post_score"]]
    assert 0.45 <= paired / episodes <= 0.65
    assert 0.12 <= satisfied / episodes <= 0.28
    assert 0.3 <= sum(changes) / len(changes) <= 0.7
    assert 2.8 <= rows / episodes <= 3.9
    assert 2.6 <= episodes / clients <= 3.4
    assert 0.25 <= ongoing / episodes <= 0.35


def test_some_clients_withhold_consent_on_all_their_episodes(moderate_rows: SectorRows) -> None:
    """Tests that consent_aggregate=false exists and is a client's choice, not an episode's."""
    withheld = 0
    for _, episodes, _ in moderate_rows:
        answers: dict[str, set[str]] = defaultdict(set)
        for row in episodes:
            answers[row["client_id"]].add(
                "false" if row["consent_aggregate"] == "false" else "true"
            )
        assert all(len(a) == 1 for a in answers.values())
        withheld += sum(a == {"false"} for a in answers.values())
    assert withheld > 0


def test_small_ngos_serve_mostly_their_home_region(moderate_rows: SectorRows) -> None:
    """Tests regional concentration: a small NGO's most common region holds most of its episodes."""
    for ngo, episodes, _ in moderate_rows:
        if 50 <= ngo.clients <= 300:
            top = Counter(row["region"] for row in episodes).most_common(1)[0][1]
            assert top / len(episodes) >= 0.7, ngo.ngo_id


# --- messy exports -----------------------------------------------------------------------------


def test_messy_files_show_what_real_exports_look_like(messy: Sector) -> None:
    """Tests that messy NGOs write BOMs, CRLF, odd headers, extra columns, aliases and XLSX."""
    sector = messy
    paths = [p for n in sector.ngos for p in (n.episodes_path, n.assessments_path)]
    csvs = [p.read_bytes() for p in paths if p.suffix == ".csv"]
    headers = [_raw_header(p) for p in paths]
    assert any(raw.startswith(b"\xef\xbb\xbf") for raw in csvs)
    assert any(b"\r\n" in raw for raw in csvs)
    assert any("CLIENT_ID" in h for h in headers)
    assert any("Client Id" in h for h in headers)
    assert any(any(c != c.strip() for c in h) for h in headers)
    assert any(h[:2] != ["client_id", "episode_id"] and "client_id" in h for h in headers)
    assert {n.file_format for n in sector.ngos} == {"csv", "xlsx"}
    assert all(n.messy for n in sector.ngos)
    regions = {row["region"] for _, episodes, _ in _sector_rows(sector) for row in episodes}
    assert regions & set(EPISODES.column("region").aliases)
    extras = {
        name
        for n in sector.ngos
        for path in (n.episodes_path, n.assessments_path)
        for name in _read(path)[0]
        if not EPISODES.has_column(name) and not ASSESSMENTS.has_column(name)
    }
    assert extras


def test_extra_columns_carry_no_identifier_names_or_values(messy: Sector) -> None:
    """Tests that columns a messy export adds would pass the hub's direct-identifier screen."""
    for ngo in messy.ngos:
        for path in (ngo.episodes_path, ngo.assessments_path):
            header, rows = _read(path)
            for name in header:
                if EPISODES.has_column(name) or ASSESSMENTS.has_column(name):
                    continue
                for kind in EPISODES.forbidden_identifiers:
                    assert name not in kind.column_names, name
                    assert not any(re.search(p, name) for p in kind.column_patterns), name
                for value in {row[name] for row in rows}:
                    assert _looks_like_identifier(value, EPISODES) is None, value


def _logical(rows: Rows, contract: Contract) -> list[tuple[str, ...]]:
    aliases = EPISODES.column("region").aliases
    return [
        tuple(
            aliases.get(row[c], row[c]) if c == "region" else row[c] for c in contract.column_names
        )
        for row in rows
    ]


def test_messy_files_hold_the_same_data_as_a_clean_run(tmp_path: Path, messy: Sector) -> None:
    """Tests that messiness is presentation only: normalised, messy rows equal the clean ones."""
    clean = _generate(tmp_path, ngos=9)
    for plain, dressed in zip(clean.ngos, messy.ngos, strict=True):
        for contract, a, b in (
            (EPISODES, plain.episodes_path, dressed.episodes_path),
            (ASSESSMENTS, plain.assessments_path, dressed.assessments_path),
        ):
            assert _logical(_read(a)[1], contract) == _logical(_read(b)[1], contract)


def test_xlsx_extracts_hold_real_dates_and_numbers(messy: Sector) -> None:
    """Tests that an XLSX extract has its header in row 1 of the first sheet and typed cells."""
    ngo = next(n for n in messy.ngos if n.file_format == "xlsx")
    book = openpyxl.load_workbook(ngo.episodes_path, read_only=True)
    header, first = list(book.worksheets[0].iter_rows(min_row=1, max_row=2, values_only=True))
    book.close()
    row = dict(zip((_normalised(str(h)) for h in header), first, strict=True))
    assert isinstance(row["start_date"], datetime)
    assert isinstance(row["sessions"], int)


def test_messy_share_dresses_a_subset_of_ngos(tmp_path: Path) -> None:
    """Tests that messy_share picks round(share * ngos) NGOs, and at least one."""
    quarter = _generate(tmp_path / "quarter", ngos=8, messy=True, messy_share=0.25)
    none = _generate(tmp_path / "none", ngos=3, messy=True, messy_share=0.0)
    assert sum(n.messy for n in quarter.ngos) == 2
    assert sum(n.messy for n in none.ngos) == 1


def test_a_rerun_in_another_format_leaves_no_stale_file(tmp_path: Path) -> None:
    """Tests that regenerating into the same folder never leaves both a CSV and an XLSX."""
    dressed = _generate(tmp_path, ngos=9, messy=True)
    _generate(tmp_path, ngos=9)
    xlsx_ngo = next(n for n in dressed.ngos if n.file_format == "xlsx")
    assert sorted(p.name for p in (tmp_path / xlsx_ngo.ngo_id).iterdir()) == [
        "assessments.csv",
        "episodes.csv",
    ]


# --- faults ------------------------------------------------------------------------------------


def _violations(rows: Rows) -> Counter[str]:
    found: Counter[str] = Counter()
    for row in rows:
        if row["end_date"] and row["end_date"] < row["start_date"]:
            found["end_before_start"] += 1
        if row["programme"] not in EPISODES.column("programme").accepted_values:
            found["unknown_programme"] += 1
        if int(row["sessions"]) > (EPISODES.column("sessions").maximum or 0):
            found["too_many_sessions"] += 1
    return found


def test_faulty_ngos_break_the_contract_and_the_others_do_not(tmp_path: Path) -> None:
    """Tests that the first K NGOs carry the planted violations, their assessments stay linked."""
    sector = _generate(tmp_path, ngos=4, faulty=2)
    for ngo, episodes, assessments in _sector_rows(sector):
        found = _violations(episodes)
        if ngo.ngo_id in ("ngo-0001", "ngo-0002"):
            assert ngo.faulty
            assert found == {"end_before_start": 2, "unknown_programme": 1, "too_many_sessions": 1}
            assert all(row["end_date"] >= str(PERIOD.start) for row in episodes if row["end_date"])
        else:
            assert not ngo.faulty
            assert not found
        known = {(row["client_id"], row["episode_id"]) for row in episodes}
        assert {(row["client_id"], row["episode_id"]) for row in assessments} <= known


# --- the contract drives the values ------------------------------------------------------------


def test_a_value_new_to_the_contract_is_generated_without_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests that a value the module has no weight for gets a small weight instead of an error."""
    contracts = tmp_path / "contracts"
    contracts.mkdir()
    for dataset in ("episodes", "assessments"):
        doc = yaml.safe_load(load_contract(dataset).path.read_text(encoding="utf-8"))
        for column in doc["schema"][0]["properties"]:
            if column["name"] in ("programme", "region", "ethnicity", "exit_reason", "assessed_by"):
                column["enum"].append({"value": "brand_new", "label": "Brand new"})
        (contracts / f"{dataset}.v1.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    monkeypatch.setattr(shape_module, "load_contract", lambda d: load_contract(d, contracts))
    sector = _generate(tmp_path / "out", ngos=5)
    for _, episodes, assessments in _sector_rows(sector):
        _check_values(load_contract("episodes", contracts), episodes)
        _check_values(load_contract("assessments", contracts), assessments)
    standard = shape_module.Standard.load()
    assert 0 < standard.region_p[standard.regions.index("brand_new")] < 0.02


# --- arguments and progress --------------------------------------------------------------------


def test_progress_is_reported_after_each_ngo(tmp_path: Path) -> None:
    """Tests that progress(done, total) is called once per NGO, in order."""
    calls: list[tuple[int, int]] = []
    _generate(tmp_path, ngos=3, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ngos": 0}, r"ngos must be at least 1, got 0"),
        ({"seed": -1}, r"seed must be a non-negative integer, got -1"),
        ({"messy_share": 1.5}, r"messy_share must be between 0 and 1, got 1\.5"),
        ({"faulty": 5}, r"faulty must be between 0 and ngos \(4\), got 5"),
        ({"faulty": -1}, r"faulty must be between 0 and ngos \(4\), got -1"),
        ({"period": "2026-Q3"}, r"period must be a Period"),
        ({"today": date(2026, 6, 30)}, r"period 2026-Q3 starts on 2026-07-01, after today"),
    ],
)
def test_invalid_arguments_are_refused_with_a_precise_message(
    tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    """Tests that each bad argument is named, with the value given and what is allowed."""
    with pytest.raises(ValueError, match=message):
        _generate(tmp_path, **overrides)
    assert not any(tmp_path.iterdir())


# --- quarters: a sector over time ----------------------------------------------------------------

YEAR = parse_range("2025-Q4..2026-Q3")


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sector, ...]:
    """Eight NGOs (one large) over four quarters."""
    return generate_quarters(
        tmp_path_factory.mktemp("year"), ngos=8, periods=YEAR, seed=2026, today=TODAY
    )


def _by_episode(rows: Rows) -> dict[str, dict[str, str]]:
    return {row["episode_id"]: row for row in rows}


def test_quarters_are_written_one_folder_per_period_and_a_quarter_is_a_range_of_one(
    tmp_path: Path, year: tuple[Sector, ...]
) -> None:
    """Tests that a range writes OUT/<period>/<ngo>/ for each quarter, that the same arguments
    give byte-identical files, and that a range's first quarter holds exactly what generating
    that quarter alone writes."""
    assert [s.period for s in year] == [str(p) for p in YEAR]
    assert all(n.episodes_path.parent == s.out_dir / n.ngo_id for s in year for n in s.ngos)
    assert all(s.out_dir.name == s.period for s in year)
    again = generate_quarters(tmp_path / "again", ngos=8, periods=YEAR, seed=2026, today=TODAY)
    assert _files(year[0].out_dir.parent) == _files(again[0].out_dir.parent)
    alone = generate_sector(tmp_path / "alone", ngos=8, period=YEAR[0], seed=2026, today=TODAY)
    assert _files(alone.out_dir) == _files(year[0].out_dir)


def test_clients_persist_and_open_episodes_carry_over_with_the_same_references(
    year: tuple[Sector, ...],
) -> None:
    """Tests that, at every NGO and between consecutive quarters: every episode still open at a
    quarter's end appears in the next with the same client and episode references, start date,
    programme and demographics; every episode begun before a later quarter was open in the one
    before; most clients continue, some leave and new ones arrive; and a carried episode keeps
    its first scores, and its second score once it has one."""
    continued = served = left = arrived = 0
    for before, after in itertools.pairwise(year):
        for old, new in zip(before.ngos, after.ngos, strict=True):
            old_eps, new_eps = (
                _by_episode(_read(old.episodes_path)[1]),
                _by_episode(_read(new.episodes_path)[1]),
            )
            kept = ("client_id", "start_date", "programme", "region", "age_band", "ethnicity")
            for eid, row in old_eps.items():
                if row["end_date"] == "":
                    assert eid in new_eps, (old.ngo_id, eid)
                    assert all(new_eps[eid][k] == row[k] for k in kept)
            start = Period.parse(after.period).start.isoformat()
            for eid, row in new_eps.items():
                if row["start_date"] < start:
                    assert old_eps[eid]["end_date"] == ""
            old_clients = {r["client_id"] for r in old_eps.values()}
            new_clients = {r["client_id"] for r in new_eps.values()}
            continued += len(new_clients & old_clients)
            served += len(new_clients)
            left += len(old_clients - new_clients)
            arrived += len(new_clients - old_clients)
            assert new.continuing == len(new_clients & old_clients)
            old_scores = {(r["episode_id"], r["domain"]): r for r in _read(old.assessments_path)[1]}
            for r in _read(new.assessments_path)[1]:
                earlier = old_scores.get((r["episode_id"], r["domain"]))
                if earlier is not None:
                    assert earlier["pre_score"] == r["pre_score"]
                    assert earlier["post_score"] in ("", r["post_score"])
    assert 0.55 <= continued / served <= 0.9
    assert left > 0.05 * served
    assert arrived > 0.1 * served


def test_ids_of_later_quarters_never_look_like_direct_identifiers(
    year: tuple[Sector, ...],
) -> None:
    """Tests that the clients who arrive in later quarters get ids that, like the first
    quarter's, match no NHI, IRD, phone, email or date pattern."""
    for sector in year[1:]:
        for _, episodes, _ in _sector_rows(sector):
            for row in episodes:
                assert re.fullmatch(r"C-\d{7}", row["client_id"])
                for value in (row["client_id"], row["episode_id"]):
                    assert _looks_like_identifier(value, EPISODES) is None, value


def test_every_quarter_of_a_range_looks_like_the_sector(year: tuple[Sector, ...]) -> None:
    """Tests that later quarters keep the first quarter's shape: episodes per client, open
    episodes, paired assessments and contract-true values, quarter after quarter."""
    for sector in year:
        rows = list(_sector_rows(sector))
        episodes = sum(len(e) for _, e, _ in rows)
        clients = sum(n.clients for n, _, _ in rows)
        ongoing = sum(r["end_date"] == "" for _, e, _ in rows for r in e)
        paired = sum(len({r["episode_id"] for r in a if r["post_score"]}) for _, _, a in rows)
        assert 2.6 <= episodes / clients <= 3.5, sector.period
        assert 0.25 <= ongoing / episodes <= 0.35, sector.period
        assert 0.45 <= paired / episodes <= 0.65, sector.period
        for _, e, a in rows:
            _check_values(EPISODES, e)
            _check_values(ASSESSMENTS, a)
            assert len({r["episode_id"] for r in e}) == len(e)


def test_periods_that_are_not_consecutive_quarters_in_order_are_refused(tmp_path: Path) -> None:
    """Tests that a list of periods with a gap, backwards or empty is refused with the rule
    named, and nothing is written."""
    q = [Period.parse(p) for p in ("2025-Q4", "2026-Q1", "2026-Q3")]
    for periods, message in (
        (q, r"periods must be consecutive quarters in order, got 2025-Q4, 2026-Q1, 2026-Q3"),
        (q[1::-1], r"consecutive quarters in order, got 2026-Q1, 2025-Q4"),
        ((), r"periods must be Periods"),
    ):
        with pytest.raises(ValueError, match=message):
            generate_quarters(tmp_path, ngos=2, periods=periods, seed=1, today=TODAY)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--periods", "2026-Q3..2025-Q4"], r"the range 2026-Q3\.\.2025-Q4 runs backwards"),
        (["--periods", "2025-10..2026-09"], r"'2025-10' is not a quarter"),
        (["--periods", "2025-Q4..2026-Q3", "--period", "2026-Q3"], r"exactly one of --period"),
        ([], r"exactly one of --period P or --periods FIRST\.\.LAST"),
    ],
    ids=["backwards", "months", "both", "neither"],
)
def test_outcomes_generate_refuses_a_range_that_is_backwards_or_not_quarters(
    tmp_path: Path, run_cli: Any, args: list[str], message: str
) -> None:
    """Tests that `outcomes generate --periods` refuses a backwards range or one that names
    months, and a command with both or neither of --period and --periods, with a usage error
    (exit 2) naming the problem; nothing is written."""
    out = tmp_path / "out"
    result = run_cli("generate", "--ngos", "2", "--out", out, *args)
    assert result.exit_code == 2
    assert re.search(message, " ".join(result.output.split())), result.output
    assert not out.exists()


def test_outcomes_generate_writes_a_year_and_says_who_came_back(
    tmp_path: Path, run_cli: Any
) -> None:
    """Tests that `outcomes generate --periods FIRST..LAST` writes one folder per quarter and
    reports, per quarter, the clients also served the quarter before."""
    out = tmp_path / "out"
    result = run_cli("generate", "--ngos", "3", "--periods", "2025-Q3..2025-Q4", "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["2025-Q3", "2025-Q4"]
    text = " ".join(result.output.split())
    assert re.search(
        r"Wrote 3 NGOs for 2025-Q4 to .*: [\d,]+ clients \([\d,]+ of them also the "
        r"quarter before\)",
        text,
    )
