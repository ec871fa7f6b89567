"""Are the pandas baseline's numbers crmflow's numbers? Component by component,
on one generated size (the smoke test runs it on the tiny data).

    .venv/bin/python -m bench.check [--size tiny] [--data-dir bench/.data]
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from bench import generate
from bench.pandas_baseline import Data
from bench.views import Ctx, crmflow_components, pandas_components


def _normalise(value):
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], pd.DataFrame):
        value = value[0]  # (predictions, fit)
    if isinstance(value, pd.DataFrame):
        df = value.reset_index(drop=True).copy()
        df.columns.name = None
        for col in df.columns:
            s = df[col]
            if pd.api.types.is_datetime64_any_dtype(s) or (
                    s.dtype == object and len(s) and isinstance(s.dropna().iloc[0] if s.notna().any() else None,
                                                                 date)):
                df[col] = pd.to_datetime(s).astype("datetime64[ns]")
            elif pd.api.types.is_bool_dtype(s):
                df[col] = s.astype(bool)
            elif pd.api.types.is_numeric_dtype(s):
                df[col] = s.astype("float64")
            else:
                df[col] = s.astype(object).where(s.notna(), None).map(lambda v: v if v is None else str(v))
        return df
    return value


def same(name: str, ours, theirs) -> str | None:
    """None when equal, else a short description of the first difference."""
    a, b = _normalise(ours), _normalise(theirs)
    if isinstance(b, pd.DataFrame):
        if not isinstance(a, pd.DataFrame):
            return f"crmflow gave {type(a).__name__}, pandas a DataFrame"
        missing = [c for c in b.columns if c not in a.columns]
        if missing:
            return f"crmflow lacks columns {missing}"
        if len(a) != len(b):
            return f"{len(a)} rows from crmflow, {len(b)} from pandas"
        try:
            pd.testing.assert_frame_equal(a[list(b.columns)], b, check_dtype=False, rtol=1e-9, atol=1e-6)
        except AssertionError as exc:
            return " ".join(str(exc).split())[:400]
        return None
    if isinstance(b, dict):
        return None if a == b else f"{a} != {b}"
    if isinstance(b, tuple):
        return None if tuple(a) == tuple(b) else f"{a} != {b}"
    return None if np.all(a == b) else f"{a} != {b}"


def compare(paths: generate.Paths) -> list[tuple[str, str | None]]:
    """(component, difference or None) for every component with a pandas side."""
    from crmflow.db import Database
    from crmflow.stages import data_range

    db = Database(paths.store)
    try:
        ds = int(db.run("get_dataset", dataset_name=generate.DATASET_NAME).iloc[0]["dataset_id"])
        first, last = data_range(db, ds)
        ctx = Ctx(db, ds, first, last)
        data = Data.load(paths.root)
        ours = crmflow_components()
        out = []
        for name, fn in pandas_components().items():
            out.append((name, same(name, ours[name](ctx), fn(data, ctx))))
        return out
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--data-dir", type=Path, default=generate.DEFAULT_DATA_DIR)
    args = ap.parse_args(argv)
    paths = generate.ensure(args.size, args.data_dir)
    results = compare(paths)
    for name, diff in results:
        print(f"{name:24s} {'same' if diff is None else 'DIFFERENT: ' + diff}")
    return 0 if all(d is None for _, d in results) else 1


if __name__ == "__main__":
    sys.exit(main())
