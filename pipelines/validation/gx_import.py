"""Import Great Expectations without paying up front for what the hub never uses.

Great Expectations imports ``scipy.stats`` (for its distribution expectations)
and ``altair`` (for Data Docs rendering) at module level. Together they cost
about a second of start-up: a quarter of an NGO coordinator's wait in
``outcomes submit``, for code that no contract rule calls. While Great
Expectations is being imported, those two modules are loaded lazily
(:class:`importlib.util.LazyLoader`): the module object exists at once and its
code runs in full on first attribute access, so anything that does use them
gets them whole. The deferral lasts only for that import; nothing else in the
process is affected.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterator, Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # the hub makes no network calls, ever

DEFERRED = frozenset({"scipy.stats", "altair"})


class _DeferringFinder(MetaPathFinder):
    """Finds the deferred modules on the usual path and hands them a lazy loader."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in DEFERRED:
            return None
        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


@contextlib.contextmanager
def _deferring() -> Iterator[None]:
    finder = _DeferringFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def great_expectations() -> ModuleType:
    """The ``great_expectations`` package, with its expectations imported."""
    with _deferring():
        import great_expectations as gx
        import great_expectations.expectations
    return gx
