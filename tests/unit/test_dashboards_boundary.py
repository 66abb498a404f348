"""The dashboards stay in the published zone: what they import, and what they open while building.

The brief's arrows run one way: the site is built from the published zone and
nothing else. Two proofs: the import graph of ``dashboards/`` (followed through
every ``pipelines`` module it reaches) never touches the hub, the NGO side,
validation or the privacy internals; and a real build, in a fresh interpreter
under an audit hook, opens no file outside the published zone, the site it
writes, the installed packages and the dashboards' own templates, while a vault,
keys, an inbox and NGO folders sit right beside it.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from test_dashboards_zone import fabricate_zone

import dashboards
import pipelines
from pipelines.home import Home
from pipelines.standard.contract import CONTRACTS_DIR

PACKAGE = Path(dashboards.__file__).parent
PIPELINES = Path(pipelines.__file__).parent
FORBIDDEN = (
    "pipelines.hub",
    "pipelines.ngo",
    "pipelines.validation",
    "pipelines.privacy",
    "pipelines.assets",
    "pipelines.assets.runs",
    "pipelines.cli",
    "pipelines.sample",
    "pipelines.definitions",
    "duckdb_extension_httpfs",
)
"""Neither dashboards nor any pipelines module they reach may import these."""
THIRD_PARTY = {"jinja2", "markupsafe", "numpy", "pandas", "plotly", "yaml"}


def _imports(path: Path, package: str) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _source(module: str) -> Path | None:
    """The source file of a first-party module (``pipelines.x.y`` or ``dashboards.x``), if any."""
    head, *rest = module.split(".")
    root = {"pipelines": PIPELINES, "dashboards": PACKAGE}.get(head)
    if root is None:
        return None
    candidate = root.joinpath(*rest)
    for path in (candidate.with_suffix(".py"), candidate / "__init__.py"):
        if path.is_file():
            return path
    return None


def _reached() -> dict[str, set[str]]:
    """Every module reached from dashboards/**, following first-party imports: name -> importers."""
    todo = [
        (p, "dashboards." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts))
        for p in PACKAGE.rglob("*.py")
    ]
    reached: dict[str, set[str]] = {}
    seen: set[Path] = set()
    while todo:
        path, name = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for module in _imports(path, package):
            reached.setdefault(module, set()).add(str(path))
            source = _source(module)
            if source is not None and source not in seen:
                todo.append((source, module.removesuffix(".__init__")))
    return reached


def _is(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_dashboards_import_nothing_beyond_the_published_zone_and_the_standard() -> None:
    """Tests that dashboards/** imports only the standard library, the published zone (store,
    export), the data standard and the rendering libraries — not even duckdb, which only the
    store opens — and that nothing it pulls in, transitively, reaches the hub, the NGO side,
    validation or the privacy internals."""
    reached = _reached()
    assert "pipelines.published.store" in reached
    for module, importers in sorted(reached.items()):
        assert not _is(module, FORBIDDEN), f"{sorted(importers)} import {module}"
        from_dashboards = sorted(i for i in importers if Path(i).is_relative_to(PACKAGE))
        if not from_dashboards:
            continue
        top = module.split(".")[0]
        if top in ("dashboards", "__future__") or top in sys.stdlib_module_names:
            continue
        if top == "pipelines":
            assert _is(module, ("pipelines.published", "pipelines.standard")), (
                f"{from_dashboards} import {module}, outside the published zone"
            )
            continue
        assert top in THIRD_PARTY, f"{from_dashboards} import {module}, not an allowed library"


_BUILD = r"""
import json, os, sys
opened, listed, databases = [], [], []
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

def audit(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        mode, flags = args[1] or "", args[2] or 0
        writes = any(c in mode for c in "wax+") or bool(flags & WRITE)
        opened.append((os.path.abspath(os.fsdecode(args[0])), writes))
    elif event in ("os.listdir", "os.scandir") and args and args[0] is not None:
        listed.append(os.path.abspath(os.fsdecode(args[0])))

sys.addaudithook(audit)

import duckdb
real_connect = duckdb.connect

def connect(database=":memory:", *args, **kwargs):
    databases.append((str(database), bool(kwargs.get("read_only"))))
    return real_connect(database, *args, **kwargs)

duckdb.connect = connect

from pathlib import Path
from dashboards import build_site

report = build_site(Path(sys.argv[1]), Path(sys.argv[2]))
modules = sorted(sys.modules)
record = {
    "opened": list(opened),
    "listed": list(listed),
    "databases": databases,
    "modules": modules,
    "pages": len(report.pages),
    "sys_path": [os.path.abspath(p) for p in sys.path],
}
Path(sys.argv[3]).write_text(json.dumps(record))
"""


def test_the_site_build_opens_only_the_published_zone_and_its_own_files(tmp_path: Path) -> None:
    """Tests that a real build, in a fresh interpreter under an audit hook, opens nothing but the
    published zone (read-only), the site folder it writes, the installed packages and Python,
    the dashboards' templates and assets, and the public data standard — while a vault, keys,
    an inbox and NGO folders lie beside the published zone — and loads no hub module."""
    home = Home(tmp_path / "home")
    fabricate_zone(home.published_db, ngos=2, periods=("2025-Q3",))
    for decoy in (
        home.vault_file,
        home.vault_key_file,
        home.inbox / "x" / "manifest.json",
        home.root / "ngos" / "ngo-0001" / "secret.key",  # an NGO folder left beside it
    ):
        decoy.parent.mkdir(parents=True, exist_ok=True)
        decoy.write_text("not for the dashboards")
    out = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-c", _BUILD, str(home.published_db), str(home.site), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["pages"] > 9

    site_dirs = [
        home.site,
        home.site.with_name(f".{home.site.name}.building"),  # staging folders and the lock
    ]
    code = [
        PACKAGE,
        PIPELINES / "__init__.py",
        PIPELINES / "__pycache__",
        PIPELINES / "published",
        PIPELINES / "standard",
        PIPELINES / "db.py",  # the shared transaction helper the published store writes with
        CONTRACTS_DIR,
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.exec_prefix),
        Path("/usr/share/zoneinfo"),  # the time-zone database, for the publication's timestamp
    ]
    forbidden = [home.hub, home.keys, home.inbox, home.root / "ngos"]

    def under(path: Path, places: list[Path]) -> bool:
        return any(path == p or path.is_relative_to(p) for p in places)

    outside = []
    for name, writes in report["opened"]:
        path = Path(name)
        assert not under(path, forbidden), f"the site build opened {path}"
        if writes:
            assert under(path, site_dirs), f"the site build wrote {path}, outside the site"
        elif not (name.startswith("/dev/") or under(path, [home.published, *site_dirs, *code])):
            outside.append(name)
    assert not outside, f"the site build opened files outside its places: {sorted(set(outside))}"
    # Listing a folder reveals names only; the build lists its own folders and the import path.
    for name in report["listed"]:
        path = Path(name)
        assert not under(path, forbidden), f"the site build listed {path}"
        on_import_path = name in report["sys_path"] or path == PIPELINES
        assert on_import_path or under(path, [home.published, *site_dirs, *code]), name
    assert report["databases"]
    assert {tuple(d) for d in report["databases"]} == {(str(home.published_db), True)}
    loaded = [m for m in report["modules"] if _is(m, FORBIDDEN)]
    assert not loaded, f"the site build loaded {loaded}"
