"""The trust zones as imports: arrows run one way.

The NGO zone never touches the hub's vault; the published zone and the
dashboards never touch the hub, the NGO side or raw validation, nor the DuckDB
extension that opens the encrypted vault. The checks walk the folders, so
modules added later are checked too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

NGO_ZONE = [ROOT / "pipelines" / "ngo"]
NGO_FORBIDDEN = ("pipelines.hub", "pipelines.assets")
HUB_ZONE = [ROOT / "pipelines" / "hub", ROOT / "pipelines" / "assets"]
HUB_FORBIDDEN = ("pipelines.ngo",)
"""The hub trusts nothing the sender says: it reads a submission through the hand-over protocol
(pipelines.standard.handover), never through the NGO side's own code."""
PUBLISHED_ZONE = [ROOT / "pipelines" / "published", ROOT / "dashboards"]
PUBLISHED_FORBIDDEN = (
    "pipelines.hub",
    "pipelines.ngo",
    "pipelines.validation",
    "duckdb_extension_httpfs",
)


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every module a file imports, absolute, wherever in the file the import is."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


def violations(folders: list[Path], forbidden: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """``file imports module`` for every forbidden import in the folders' Python files."""
    out = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")) if folder.is_dir() else []:
            for module in sorted(imported_modules(path, root)):
                if any(module == f or module.startswith(f + ".") for f in forbidden):
                    out.append(f"{path.relative_to(root)} imports {module}")
    return out


def test_the_ngo_zone_never_imports_the_hub() -> None:
    """Tests that no module under pipelines/ngo imports pipelines.hub (the vault, intake…)."""
    assert any(folder.is_dir() for folder in NGO_ZONE)
    assert violations(NGO_ZONE, NGO_FORBIDDEN) == []


def test_the_hub_never_imports_the_ngo_zone() -> None:
    """Tests that no module under pipelines/hub or the Dagster shell imports pipelines.ngo: the
    wire format comes from the neutral hand-over protocol, not from the sender's code."""
    assert all(folder.is_dir() for folder in HUB_ZONE)
    assert violations(HUB_ZONE, HUB_FORBIDDEN) == []


def test_the_hub_scan_fails_on_an_import_of_the_ngo_zone(tmp_path: Path) -> None:
    """Tests that the hub-side scan can fail: a hub module importing the NGO side's hand-over
    is reported."""
    module = tmp_path / "pipelines" / "hub" / "inbox.py"
    module.parent.mkdir(parents=True)
    module.write_text("from pipelines.ngo.handover import PAYLOAD\n", encoding="utf-8")
    found = violations([tmp_path / "pipelines" / "hub"], HUB_FORBIDDEN, root=tmp_path)
    assert found == [
        "pipelines/hub/inbox.py imports pipelines.ngo.handover",
        "pipelines/hub/inbox.py imports pipelines.ngo.handover.PAYLOAD",
    ]


def test_the_published_zone_and_dashboards_import_nothing_of_the_vault() -> None:
    """Tests that pipelines/published and dashboards/ import neither the hub, the NGO side,
    validation nor the crypto extension that opens the vault."""
    present = [folder for folder in PUBLISHED_ZONE if folder.is_dir()]
    if not present:
        pytest.skip("neither pipelines/published nor dashboards/ exists yet")
    assert violations(present, PUBLISHED_FORBIDDEN) == []


@pytest.mark.parametrize(
    "source",
    [
        "import pipelines.hub.vault\n",
        "from pipelines.hub import vault\n",
        "from pipelines import hub\n",
        "def f():\n    from pipelines.hub.audit import verify\n",
        "import importlib\nimportlib.import_module('pipelines.hub.vault')\n",
        "from ..hub import vault\n",
    ],
)
def test_the_import_scan_sees_every_way_of_importing(tmp_path: Path, source: str) -> None:
    """Tests that the scan can fail: plain, from-, nested, dynamic and relative imports of the
    hub from a module in the NGO zone are all reported."""
    module = tmp_path / "pipelines" / "ngo" / "leaky.py"
    module.parent.mkdir(parents=True)
    module.write_text(source, encoding="utf-8")
    found = violations([tmp_path / "pipelines" / "ngo"], NGO_FORBIDDEN, root=tmp_path)
    assert found
    assert all("leaky.py imports pipelines.hub" in f for f in found)
