"""Great Expectations is imported with scipy.stats and altair deferred, and nothing is lost by it.

Run in a fresh interpreter: in this one, earlier tests may have imported
either module for real already.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from pipelines.validation.gx_import import DEFERRED, great_expectations

gx = great_expectations()
deferred = {name: type(sys.modules[name]).__name__ for name in sorted(DEFERRED)}

from scipy import stats
import altair
print(json.dumps({
    "deferred": deferred,
    "finders_left_behind": [type(f).__name__ for f in sys.meta_path if "Deferring" in type(f).__name__],
    "ppf": stats.norm.ppf(0.975),
    "altair_has_chart": hasattr(altair, "Chart"),
    "loaded": {name: type(sys.modules[name]).__name__ for name in sorted(DEFERRED)},
    "suite": type(gx.ExpectationSuite(name="probe")).__name__,
}))
"""


def test_deferred_modules_load_whole_on_first_use_and_the_import_hook_is_gone() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(seen["deferred"].values()) == {"_LazyModule"}
    assert seen["finders_left_behind"] == []
    assert abs(seen["ppf"] - 1.959964) < 1e-6
    assert seen["altair_has_chart"] is True
    assert set(seen["loaded"].values()) == {"module"}
    assert seen["suite"] == "ExpectationSuite"
