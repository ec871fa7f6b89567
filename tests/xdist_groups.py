"""Which tests run together under ``pytest -n N --dist loadgroup`` (``make test``).

A pytest plugin, imported by ``tests/conftest.py`` (and usable as ``-p xdist_groups``).
"""

from __future__ import annotations

import pytest


#: Fixture scopes built once per module (or class): a test using one runs on the worker that has it.
_SHARED_SCOPES = {"module", "class", "package"}


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    """Under ``pytest -n N --dist loadgroup`` (``make test``), keep the tests that share a
    module-scoped fixture (a stored demo dataset, a dashboard server, a fitted model) on one
    worker, so that each such fixture is built once in the run and not once per worker: they
    get ``xdist_group(<their file>)``. Tests with an ``xdist_group`` of their own (the Spark
    tests' ``"spark"``) keep it; the others are handed out one by one. Without xdist the
    marker does nothing."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None and _uses_shared_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
    result = yield  # xdist's own hook appends "@<group>" to the node ids
    _suffix_group(config, items)
    return result


def _uses_shared_fixture(item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    return info is not None and any(defs and defs[-1].scope in _SHARED_SCOPES
                                    for defs in info.name2fixturedefs.values())


def _suffix_group(config, items) -> None:
    """pytest-xdist (3.8) tells its controller a test's group by appending ``@<group>`` to the
    node id in the worker, writing ``item._nodeid``; pytest 9.2 keeps the id in ``item._id``
    (a NodeId), so that write is lost and every test is scheduled on its own
    (pytest-dev/pytest-xdist#1386; fix pending in #1388). Do what xdist meant to, where it did
    not: set the id's string form, which ``item.nodeid`` and the reports read."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = {str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                 for m in item.iter_markers("xdist_group")}
        suffix = "@" + "_".join(sorted(names))
        if not names or item.nodeid.endswith(suffix):
            continue
        node_id = getattr(item, "_id", None)
        if node_id is not None and hasattr(node_id, "_str_cache"):
            object.__setattr__(node_id, "_str_cache", str(node_id) + suffix)
