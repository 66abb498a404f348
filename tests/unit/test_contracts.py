"""The v1 contracts: they load, they lint as ODCS, they agree where they must, and no enum
value of theirs is typed into the code."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines.standard.contract import (
    CONTRACTS_DIR,
    DATASETS,
    ContractError,
    load_contract,
    parse_contract,
)

ROOT = Path(__file__).resolve().parents[2]
PIPELINES = ROOT / "pipelines"


def _datacontract() -> str:
    found = shutil.which("datacontract", path=str(Path(sys.executable).parent))
    assert found, "the venv's datacontract executable is missing (datacontract-cli is a dev pin)"
    return found


@pytest.mark.parametrize("dataset", DATASETS)
def test_each_contract_loads_with_the_columns_the_hub_needs(dataset: str) -> None:
    """Tests that both contracts load, are v1, and name a privacy identifier among their columns."""
    contract = load_contract(dataset)
    assert contract.tag == f"{dataset}.v1"
    assert contract.privacy_identifier in contract.column_names
    assert set(contract.pseudonymised_columns) <= set(contract.column_names)
    assert contract.forbidden_identifiers


@pytest.mark.parametrize("dataset", DATASETS)
def test_each_contract_passes_datacontract_lint_offline(dataset: str) -> None:
    """Tests that `datacontract lint` (bundled ODCS schema, no network) accepts each contract."""
    result = subprocess.run(
        [_datacontract(), "lint", str(CONTRACTS_DIR / f"{dataset}.v1.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_datacontract_lint_fails_on_a_broken_contract(tmp_path: Path) -> None:
    """Tests that the lint above can fail: a contract with an unknown logicalType exits non-zero."""
    text = (CONTRACTS_DIR / "episodes.v1.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("logicalType: string", "logicalType: strang"), encoding="utf-8")
    result = subprocess.run(
        [_datacontract(), "lint", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0


def test_both_contracts_forbid_the_same_direct_identifiers() -> None:
    """Tests that episodes and assessments declare identical forbiddenIdentifiers, as written
    and as parsed, so no identifier is refused in one file and let through in the other."""
    raw = []
    for dataset in DATASETS:
        doc = yaml.safe_load((CONTRACTS_DIR / f"{dataset}.v1.yaml").read_text(encoding="utf-8"))
        (prop,) = [p for p in doc["customProperties"] if p["property"] == "forbiddenIdentifiers"]
        raw.append(prop["value"])
    assert raw[0] == raw[1]
    parsed = [load_contract(d).forbidden_identifiers for d in DATASETS]
    assert parsed[0] == parsed[1]
    kinds = {f.kind for f in parsed[0]}
    assert {"person_name", "address", "phone", "email", "date_of_birth", "nhi", "ird"} <= kinds


def test_an_unknown_dataset_is_refused_by_name() -> None:
    """Tests that asking for a contract that does not exist names the datasets that do."""
    with pytest.raises(ContractError, match="unknown dataset 'clients'; expected one of episodes"):
        load_contract("clients")


def test_a_contract_missing_a_field_the_hub_needs_names_file_and_field(tmp_path: Path) -> None:
    """Tests that a contract without privacyIdentifier is refused with the file and field named."""
    path = CONTRACTS_DIR / "episodes.v1.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["customProperties"] = [
        p for p in doc["customProperties"] if p["property"] != "privacyIdentifier"
    ]
    with pytest.raises(ContractError, match=r"episodes\.v1\.yaml: missing 'privacyIdentifier'"):
        parse_contract(doc, path)


# --- no enum value typed into the code -----------------------------------------------------------

# Words that happen to equal an enum value but do not stand for it: each with its reason.
NOT_ENUM_USES = {
    ("pipelines/ngo/submit.py", "unknown"): "placeholder for a file format that has no suffix",
}
# The sample generator's weight tables are keyed by contract value; that is their job.
WEIGHT_TABLE_MODULES = {"pipelines/sample/shape.py"}


def _enum_values() -> set[str]:
    values: set[str] = set()
    for dataset in DATASETS:
        for column in load_contract(dataset).columns:
            values |= set(column.accepted_values) | set(column.aliases)
    return values


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            found.add(id(body[0].value))
    return found


def _weight_table_literals(tree: ast.Module) -> set[int]:
    """Literals inside module-level assignments to private names (the weight tables)."""
    found = set()
    for stmt in tree.body:
        targets = (
            stmt.targets
            if isinstance(stmt, ast.Assign)
            else [stmt.target]
            if isinstance(stmt, ast.AnnAssign)
            else []
        )
        if targets and all(isinstance(t, ast.Name) and t.id.startswith("_") for t in targets):
            found |= {id(n) for n in ast.walk(stmt) if isinstance(n, ast.Constant)}
    return found


def hard_coded_enum_values(root: Path, base: Path = ROOT) -> list[str]:
    """``path:line: 'value'`` for every enum value written as a literal under ``root``."""
    values = _enum_values()
    hits = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(base).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        allowed = _docstrings(tree)
        if rel in WEIGHT_TABLE_MODULES:
            allowed |= _weight_table_literals(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in values
                and id(node) not in allowed
                and (rel, node.value) not in NOT_ENUM_USES
            ):
                hits.append(f"{rel}:{node.lineno}: {node.value!r}")
    return hits


def test_no_contract_enum_value_is_hard_coded_in_pipelines() -> None:
    """Tests that no module under pipelines/ writes a contract enum value (or alias) as a string
    literal, outside the sample generator's weight tables: values come from the contracts."""
    assert hard_coded_enum_values(PIPELINES) == []


def test_the_enum_literal_scan_finds_a_hard_coded_value(tmp_path: Path) -> None:
    """Tests that the scan above can fail: a module comparing against a programme value is
    named with its line, while the same value in a docstring is not."""
    value = load_contract("episodes").column("programme").accepted_values[0]
    module = tmp_path / "pipelines" / "offender.py"
    module.parent.mkdir()
    module.write_text(f'"""{value}"""\n\nIS_FV = lambda p: p == {value!r}\n')
    assert hard_coded_enum_values(tmp_path / "pipelines", tmp_path) == [
        f"pipelines/offender.py:3: {value!r}"
    ]
