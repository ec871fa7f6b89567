"""Issue 12, item 4: every file in pages/ is a real page of the navigation.

Streamlit lists every ``pages/*.py`` as a page on the first frame of a plain
``streamlit run app.py`` (before app.py's st.navigation replaces the list), so
shared code there showed up as a page called "common". The shared page code
now lives in ``crmflow/ui/``; these tests keep pages/ to pages.
"""

from __future__ import annotations

import ast
import gc
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from crmflow.i18n import t
from crmflow.plain import md

ROOT = Path(__file__).resolve().parent.parent


def registry() -> list[tuple[str, str, str]]:
    """app.py's PAGES table: (file stem, title key, icon)."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    node = next(n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                and getattr(n.targets[0], "id", "") == "PAGES")
    return [tuple(e.value for e in row.elts) for row in node.elts]


def test_every_file_in_pages_is_registered_and_every_registered_page_is_a_file():
    stems = [row[0] for row in registry()]
    files = sorted(p.stem for p in (ROOT / "pages").glob("*.py"))
    assert len(stems) == len(set(stems))
    assert sorted(stems) == files
    assert not (ROOT / "pages" / "__init__.py").exists()
    # each page's URL is its file stem: the first session after the server
    # starts resolves a URL against the pages/ folder before app.py registers
    # the pages, and any other path showed "Page not found" (streamlit#9992)
    from streamlit.source_util import page_icon_and_name  # how Streamlit names a page file

    assert "url_path=" not in (ROOT / "app.py").read_text(encoding="utf-8")
    assert [page_icon_and_name(ROOT / "pages" / f"{stem}.py")[1] for stem in stems] == stems
    # each title is a label in both languages
    for _, title, _ in registry():
        assert t(title, "en") != title and t(title, "zh") != title


def test_no_page_file_is_imported_as_a_module():
    """A page is run by Streamlit, never imported: shared code is in crmflow/ui/."""
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "crmflow").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n == "pages" or n.startswith("pages.")], (path, names)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return tmp_path_factory.mktemp("polish3-pages") / "crmflow.duckdb"


#: What each page shows first: its own title (a header), or, for the
#: Presentation, the title of its first slide (crmflow.report, built after the
#: app has released the file).
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_registered_page_runs_and_shows_its_title(db, monkeypatch, lang):
    from crmflow.report import SLIDE_KEYS, build_slide
    from crmflow.stages import data_range
    from crmflow.store import Store

    monkeypatch.setenv("CRMFLOW_DB", str(db))
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    st.cache_data.clear()
    gc.collect()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception, at.exception
    shown = {}
    for stem, title, _ in registry():
        at.switch_page(f"pages/{stem}.py")
        at.run()
        assert not at.exception, (stem, at.exception)
        shown[stem] = [h.value for h in at.header] + [h.value for h in at.title]
        if stem != "present":
            assert t(title, lang) in shown[stem], (stem, shown[stem])
    del at
    st.cache_resource.clear()
    gc.collect()
    with Store(db, read_only=True) as store:  # the dashboard may still hold it read-only here
        ds = store.get("demo").dataset_id
        first_slide = build_slide(store.db, ds, SLIDE_KEYS[0], data_range(store.db, ds)[1], lang=lang)
    assert md(first_slide.title) in shown["present"], shown["present"]  # escaped: shown as text
