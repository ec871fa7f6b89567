"""Turn the raw figures of :mod:`bench.run` into RESULTS.md: machine, versions,
one table per size (pages and their components, crmflow vs pandas; the demo
data too), the commands as whole processes, `crmflow stages FILE` against
pandas and DuckDB, storing a dataset, the CLV fit vs lifetimes, ingestion,
the dashboard start, concurrent sessions, and a verdict per budget line."""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.views import VIEWS

GIB = 1024 ** 3
MET, MISSED = "met", "**missed**"


# --------------------------------------------------------------------------- formatting
def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _min(values):
    values = [v for v in values if v is not None]
    return min(values) if values else None


def fmt_s(seconds) -> str:
    if seconds is None:
        return "—"
    if seconds >= 100:
        return f"{seconds:.0f} s"
    if seconds >= 10:
        return f"{seconds:.1f} s"
    if seconds >= 0.1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.1f} ms"


def fmt_med_min(values) -> str:
    med, lo = _median(values), _min(values)
    if med is None:
        return "—"
    return f"{fmt_s(med)} ({fmt_s(lo)})" if len([v for v in values if v is not None]) > 1 else fmt_s(med)


def fmt_bytes(n) -> str:
    if n is None:
        return "—"
    return f"{n / GIB:.2f} GiB" if n >= GIB else f"{n / 1024 ** 2:.0f} MiB"


def fmt_count(n) -> str:
    return "—" if n is None else f"{n:,}"


def fmt_ratio(r) -> str:
    if r is None:
        return "—"
    return f"{r:.0f}×" if r >= 10 else f"{r:.1f}×"


def verdict(ok: bool) -> str:
    return MET if ok else MISSED


# --------------------------------------------------------------------------- summaries
def view_summary(procs: list[dict], pandas_view: dict | None) -> dict:
    """Medians of one page at one size, total and per component."""
    good = [p for p in procs if "error" not in p]
    if not good:
        return {"error": procs[0].get("error", "no run") if procs else "not measured"}
    na: dict[str, str] = {}
    for p in good:
        na.update(p.get("na", {}))
    warm_runs = good[0]["warm"] or [good[0]["cold"]]  # no warm run: the cold one stands in (flagged)
    comps = [c for c in warm_runs[0] if c not in na and not c.startswith("_")]
    out = {"na": na, "components": {}, "peak_rss": max(p["peak_rss"] for p in good),
           "warm_skipped": good[0].get("warm_skipped") if not good[0]["warm"] else None}
    pandas_runs = (pandas_view or {}).get("runs") or []
    out["pandas_skipped"] = (pandas_view or {}).get("skipped") or {}
    comparable = [c for c in comps if pandas_runs and c in pandas_runs[0]]
    out["pandas_cpu"] = [r.get("_cpu") for r in pandas_runs]
    for c in comps:
        comp = {"warm": [r.get(c) for r in warm_runs], "cold": [p["cold"].get(c) for p in good]}
        if pandas_runs and c in pandas_runs[0]:
            comp["pandas"] = [r[c] for r in pandas_runs]
            comp["ratio"] = _median(comp["pandas"]) / max(_median(comp["warm"]), 1e-9)
        out["components"][c] = comp
    out["warm"] = [sum(r.get(c, 0.0) for c in comps) for r in warm_runs]
    out["warm_cpu"] = [r.get("_cpu") for r in warm_runs]
    out["cold"] = [p["open"] + sum(p["cold"].get(c, 0.0) for c in comps) for p in good]
    if comparable:
        ours = [sum(r[c] for c in comparable) for r in warm_runs]
        theirs = [sum(r[c] for c in comparable) for r in pandas_runs]
        out["pandas"] = theirs
        out["pandas_peak_rss"] = (pandas_view or {}).get("peak_rss")
        out["comparable"] = comparable
        out["ratio"] = _median(theirs) / max(_median(ours), 1e-9)
    return out


def _budget(budget: dict, key: str, label: str):
    value = budget.get(key)
    return value.get(label) if isinstance(value, dict) else value


# --------------------------------------------------------------------------- sections
def _machine_section(results: dict) -> list[str]:
    m, v = results["machine"], results["versions"]
    load = m.get("load_average") or ()
    load_end = m.get("load_average_end") or ()
    lines = [
        "## Machine and versions",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores; RAM {fmt_bytes(m.get('ram_bytes'))}; {m['os']}",
        "- load average at start " + ", ".join(f"{x:.2f}" for x in load)
        + (("; at end " + ", ".join(f"{x:.2f}" for x in load_end)) if load_end else ""),
        "- " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- run: `python -m bench.run {' '.join(results.get('argv') or [])}`",
        ("  **in-process run: a check of the harness, not a benchmark (cold runs are not cold)**"
         if results["settings"].get("in_process") else "")
        + f"  ({results['settings']['repeat']} warm runs, {results['settings']['cold']} cold processes per "
        f"measurement, repeats stop after {results['settings']['time_limit']:.0f} s; "
        f"whole run {fmt_s(results.get('seconds'))})",
        "",
    ]
    return lines


def _data_section(results: dict) -> list[str]:
    lines = ["## Data", "", "| size | lines | orders | buying customers | customers table | interactions | "
             "generated in | stored in (in-process ingest, results and fits included) |",
             "|---|---|---|---|---|---|---|---|"]
    for label, size in results["sizes"].items():
        m = size["meta"]
        c = m.get("counts", {})
        counts = [fmt_count(n) for n in (c.get("transactions"), m.get("orders"), m.get("customers_buying"),
                                         c.get("customers"), c.get("interactions"))]
        lines.append(f"| {label} | {' | '.join(counts)} | "
                     f"{fmt_s(m.get('generate_seconds'))} | {fmt_s(m.get('ingest_seconds'))} |")
    lines.append("")
    return lines


def _views_section(label: str, size: dict, budget: dict, budget_views, notes, verdicts: list) -> list[str]:
    if not size.get("views"):
        return []
    pandas = size.get("pandas") or {}
    lines = [f"## Pages at {label}", ""]
    if pandas.get("error"):
        lines += [f"pandas baseline: {pandas['error']}", ""]
    elif pandas:
        lines += [f"pandas loads the Parquet files in {fmt_s(pandas.get('load'))} "
                  f"(peak {fmt_bytes(pandas.get('load_peak_rss'))}); not counted below, "
                  "as crmflow's data are already in its store.", ""]
    lines += ["| page / component | crmflow warm: median (min) | warm CPU | cold | peak memory | "
              "pandas: median (min) | pandas / crmflow | budget | verdict |", "|---|---|---|---|---|---|---|---|---|"]
    warm_budget = _budget(budget, "view_warm_seconds", label)
    cold_budget = _budget(budget, "view_cold_seconds", label)
    cold_line = f"{{view}} at {label}: ≤ {fmt_s(cold_budget)} cold (a new process opens the store, results stored)"
    ratio_budget = _budget(budget, "view_ratio", label)
    peak_budget = _budget(budget, "peak_bytes", label)
    for view in VIEWS:
        procs = size["views"].get(view)
        if procs is None:
            continue
        s = view_summary(procs, (pandas.get("views") or {}).get(view))
        if "error" in s:
            lines.append(f"| **{view}** | {s['error']} | | | | | | | |")
            if view in budget_views and warm_budget is not None:
                verdicts.append((f"{view} at {label}: ≤ {fmt_s(warm_budget)} warm", MISSED, s["error"]))
            if view in budget_views and cold_budget is not None:
                verdicts.append((cold_line.format(view=view), MISSED, s["error"]))
            continue
        if not s["components"]:
            lines.append(f"| **{view}** | n/a | | | {fmt_bytes(s['peak_rss'])} | | | | |")
            lines += [f"| · {c} | {s['na'][c]} | | | | | | | |" for c in VIEWS[view] if c in s["na"]]
            continue
        budget_text, checks = [], []
        if view in budget_views and s["components"]:
            if warm_budget is not None:
                budget_text.append(f"≤ {fmt_s(warm_budget)} warm")
                checks.append(_median(s["warm"]) <= warm_budget)
            if ratio_budget is not None:
                budget_text.append(f"≥ {ratio_budget:g}× pandas")
                checks.append(s.get("ratio") is not None and s["ratio"] >= ratio_budget)
            if peak_budget is not None:
                budget_text.append(f"≤ {fmt_bytes(peak_budget)}")
                checks.append(s["peak_rss"] <= peak_budget)
        partial = " (partial)" if s["na"] else ""
        if checks:
            kind = "cold (no warm run)" if s["warm_skipped"] else "warm"
            verdicts.append((f"{view} at {label}: " + ", ".join(budget_text),
                             verdict(all(checks)) + partial,
                             f"{fmt_s(_median(s['warm']))} {kind}, {fmt_ratio(s.get('ratio'))} pandas, "
                             f"peak {fmt_bytes(s['peak_rss'])}"))
        if view in budget_views and cold_budget is not None:
            budget_text.append(f"≤ {fmt_s(cold_budget)} cold")
            checks.append(_median(s["cold"]) <= cold_budget)
            verdicts.append((cold_line.format(view=view), verdict(checks[-1]) + partial,
                             f"{fmt_s(_median(s['cold']))} cold"))
        v = verdict(all(checks)) + partial if checks else ""
        ratio = fmt_ratio(s.get("ratio"))
        if s.get("comparable") and len(s["comparable"]) < len(s["components"]):
            ratio += " (on " + ", ".join(s["comparable"]) + ")"
        warm_text = f"**{fmt_med_min(s['warm'])}**"
        if s["warm_skipped"]:
            warm_text = f"no warm run ({s['warm_skipped']}); cold: **{fmt_s(_median(s['warm']))}**"
        lines.append(f"| **{view}** | {warm_text} | {fmt_s(_median(s['warm_cpu']))} | "
                     f"{fmt_med_min(s['cold'])} | "
                     f"{fmt_bytes(s['peak_rss'])} | {fmt_med_min(s.get('pandas', []))} | {ratio} | "
                     f"{'; '.join(budget_text)} | {v} |")
        for c in VIEWS[view]:
            if c in s["na"]:
                lines.append(f"| · {c} | {s['na'][c]} | | | | | | | |")
                continue
            comp = s["components"].get(c)
            if comp is None:
                continue
            theirs = s["pandas_skipped"].get(c) or fmt_med_min(comp.get("pandas", []))
            lines.append(f"| · {c} | {fmt_med_min(comp['warm'])} | | {fmt_med_min(comp['cold'])} | | "
                         f"{theirs} | {fmt_ratio(comp.get('ratio'))} | | |")
    lines.append("")
    used = [c for v in VIEWS for c in VIEWS[v] if c in notes]
    if used:
        lines += ["Notes: " + "; ".join(f"`{c}`: {notes[c]}" for c in dict.fromkeys(used)) + ".", ""]
    return lines


def _clv_section(results: dict, budget: dict, verdicts: list) -> list[str]:
    if not any(size.get("clv") for size in results["sizes"].values()):
        return []
    lines = ["## CLV fit (BG/NBD + Gamma-Gamma) vs lifetimes, same calibration summary", "",
             "| size | customers (repeat buyers) | summary query | crmflow fit: median (min) | "
             "lifetimes fit: median (min) | lifetimes / crmflow | largest parameter difference | budget | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    for label, size in results["sizes"].items():
        clv = size.get("clv")
        if not clv:
            continue
        ours, theirs = clv.get("crmflow", {}), clv.get("lifetimes", {})
        if "error" in ours:
            lines.append(f"| {label} | {ours['error']} | | | | | | | |")
            continue
        ratio, diff_text, worst = None, "—", None
        if "error" not in theirs:
            ratio = _median(theirs["total"]) / max(_median(ours["total"]), 1e-9)
            diffs = {k: abs(ours["params"][k] - theirs["params"][k]) / abs(theirs["params"][k])
                     for k in theirs["params"]}
            key = max(diffs, key=diffs.get)
            worst = diffs[key]
            diff_text = f"{worst:.1e} ({key})"
        budget_text, checks = [], []
        ratio_budget = _budget(budget, "clv_ratio", label)
        seconds_budget = _budget(budget, "clv_seconds", label)
        if ratio_budget is not None:
            budget_text.append(f"≥ {ratio_budget:g}× lifetimes, parameters within {budget['clv_param_rel']:g}")
            checks.append(ratio is not None and ratio >= ratio_budget and worst is not None
                          and worst <= budget["clv_param_rel"])
        if seconds_budget is not None:
            budget_text.append(f"≤ {fmt_s(seconds_budget)}")
            checks.append(_median(ours["total"]) <= seconds_budget)
        v = verdict(all(checks)) if checks else ""
        if checks:
            verdicts.append((f"CLV fit at {ours['customers']:,} customers: " + ", ".join(budget_text), v,
                             f"{fmt_s(_median(ours['total']))}, {fmt_ratio(ratio)} lifetimes, "
                             f"parameters {diff_text}"))
        theirs_text = theirs["error"] if "error" in theirs else fmt_med_min(theirs["total"])
        ratio_text = fmt_ratio(ratio)
        if ours.get("cpu") and theirs.get("cpu"):
            ratio_text += f" (CPU {fmt_ratio(_median(theirs['cpu']) / max(_median(ours['cpu']), 1e-9))})"
        ours_text = fmt_med_min(ours["total"])
        if ours.get("cpu"):
            ours_text += f"; CPU {fmt_s(_median(ours['cpu']))}"
        if theirs.get("cpu"):
            theirs_text += f"; CPU {fmt_s(_median(theirs['cpu']))}"
        lines.append(f"| {label} | {ours['customers']:,} ({ours['repeat_buyers']:,}) | "
                     f"{fmt_s(ours['summary_query'])} | {ours_text} | {theirs_text} | "
                     f"{ratio_text} | {diff_text} | {'; '.join(budget_text)} | {v} |")
    lines += ["", "Fit times are of the two models on arrays already in memory (BG/NBD then Gamma-Gamma on the "
              "repeat buyers with a positive spend), the same arrays for both packages; the summary query that "
              "builds them from the store is timed on its own.", ""]
    return lines


def _ingest_section(results: dict, budget: dict, verdicts: list) -> list[str]:
    rows = [(label, size["ingest"]) for label, size in results["sizes"].items() if size.get("ingest")]
    if not rows:
        return []
    lines = ["## Ingesting the transactions CSV (a fresh process each time)", "",
             "| size | rows | crmflow Store(in_memory=True).ingest: median (min) | peak memory | "
             "pandas read_csv + cleaning: median (min) | pandas / crmflow | budget | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for label, ing in rows:
        ours = [r for r in ing["crmflow"] if "error" not in r]
        theirs = [r for r in ing["pandas"] if "error" not in r]
        if not ours:
            lines.append(f"| {label} | {ing['crmflow'][0].get('error')} | | | | | | |")
            continue
        t_ours = [r["seconds"] for r in ours]
        t_theirs = [r["seconds"] for r in theirs]
        ratio = _median(t_theirs) / _median(t_ours) if t_theirs else None
        limit = _budget(budget, "ingest_seconds", label)
        v = verdict(_median(t_ours) <= limit) if limit is not None else ""
        if limit is not None:
            verdicts.append((f"ingest of the {label} CSV ≤ {fmt_s(limit)}", v, fmt_s(_median(t_ours))))
        lines.append(f"| {label} | {ours[0]['rows']:,} | {fmt_med_min(t_ours)} | "
                     f"{fmt_bytes(max(r['peak_rss'] for r in ours))} | {fmt_med_min(t_theirs)} | {fmt_ratio(ratio)} | "
                     f"{'' if limit is None else '≤ ' + fmt_s(limit)} | {v} |")
    lines.append("")
    return lines


def _process_figures(runs: list[dict]) -> tuple[list[float], int | None, str | None]:
    """Whole-process runs (bench.run.run_process): each run's seconds, the
    largest peak memory, and the first failure (None when every run ended well)."""
    good = [r for r in runs if "error" not in r]
    error = next((r["error"] for r in runs if "error" in r), None if runs else "not measured")
    return [r["seconds"] for r in good], max((r["peak_rss"] for r in good if r.get("peak_rss")), default=None), error


def _sized(results: dict, key: str) -> list[tuple[str, dict]]:
    """(label, size) of the sizes that have figures under ``key``."""
    return [(label, size) for label, size in results["sizes"].items() if size.get(key)]


def _head(title: str, intro: str, columns: tuple[str, ...]) -> list[str]:
    """A section's title, its introduction and its table's header."""
    return [f"## {title}", "", intro, "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def _commands_section(results: dict, budget: dict, verdicts: list) -> list[str]:
    """`crmflow --version`, each view's command and the meeting report on stored
    data, as whole processes; the commands' time beyond the start-up."""
    by_size = _sized(results, "commands")
    if not results.get("version") and not by_size:
        return []
    lines = _head("Commands, whole processes",
                  "Each run is a fresh `python -m crmflow COMMAND --db STORE --dataset NAME` (the `crmflow` command; "
                  "D = the last order date, whose results are stored; `flow` from D − 365 days; `report` writes "
                  "HTML), timed from its start to its exit; peak memory is the largest process's. *Beyond start-up* "
                  "is the median less the median of `crmflow --version` in the same run.",
                  ("command", "data", "whole process: median (min)", "beyond start-up", "peak memory", "budget",
                   "verdict"))
    start = None
    if results.get("version"):
        seconds, peak, error = _process_figures(results["version"])
        limit = budget["version_seconds"]
        start = None if error else _median(seconds)
        v = MISSED if error else verdict(start <= limit)
        verdicts.append((f"`crmflow --version` starts in ≤ {fmt_s(limit)}", v, error or fmt_s(start)))
        lines.append(f"| `--version` | | {error or fmt_med_min(seconds)} | | {fmt_bytes(peak)} | "
                     f"≤ {fmt_s(limit)} | {v} |")
    for label, size in by_size:
        for cmd, runs in size["commands"].items():
            seconds, peak, error = _process_figures(runs)
            whole = None if error else _median(seconds)
            beyond = None if whole is None or start is None else whole - start
            if cmd == "report":
                limit, measured = _budget(budget, "report_seconds", label), whole
                line = f"meeting report (`crmflow report`) on the {label} data: ≤ {fmt_s(limit)}, whole process"
                budget_text = f"≤ {fmt_s(limit)}"
            else:
                limit, measured = _budget(budget, "command_seconds", label), beyond
                line = f"`crmflow {cmd}` on the stored {label} dataset: ≤ {fmt_s(limit)} beyond start-up"
                budget_text = f"≤ {fmt_s(limit)} beyond start-up"
            v = ""
            if limit is not None:
                v = MISSED if measured is None else verdict(measured <= limit)
                verdicts.append((line, v, error or f"{fmt_s(whole)} whole, {fmt_s(beyond)} beyond start-up"))
            lines.append(f"| `{cmd}` | {label} | {error or fmt_med_min(seconds)} | {fmt_s(beyond)} | "
                         f"{fmt_bytes(peak)} | {budget_text if limit is not None else ''} | {v} |")
    lines.append("")
    return lines


def _stages_file_section(results: dict, budget: dict, verdicts: list) -> list[str]:
    """`crmflow stages FILE` against plain pandas and one plain DuckDB query,
    whole processes, with a check that the three give the same counts."""
    rows = _sized(results, "stages_file")
    if not rows:
        return []
    lines = _head("`crmflow stages FILE`: whole processes against plain pandas and one plain DuckDB query",
                  "Each run is a fresh process that reads the transactions file and prints the stage counts at its "
                  "last order date: `python -m crmflow stages FILE` (every check of SPEC §1: the file is ingested "
                  "into an in-memory store), plain pandas (`pandas_stages` in bench/worker.py: read, the cleaning "
                  "of bench/pandas_baseline.py for a CSV, its stage counts) and one plain DuckDB query over the file "
                  "(`STAGES_SQL` in bench/worker.py).",
                  ("size", "file", "crmflow: median (min)", "peak memory", "pandas: median (min)",
                   "DuckDB process (query)", "pandas / crmflow", "crmflow / DuckDB", "same counts", "budget",
                   "verdict"))
    for label, size in rows:
        n_lines = size["meta"].get("counts", {}).get("transactions", 0)
        for fmt, sides in size["stages_file"].items():
            fig = {side: _process_figures(runs) for side, runs in sides.items()}
            errors = "; ".join(f"{side}: {f[2]}" for side, f in fig.items() if f[2])
            med = {side: _median(f[0]) for side, f in fig.items()}
            counts = [{k: v for k, v in runs[0]["counts"].items() if v} for runs in sides.values()
                      if runs and "counts" in runs[0]]
            same = len(counts) == len(sides) and all(c == counts[0] for c in counts)
            vs_pandas = med["pandas"] / med["crmflow"] if med["pandas"] and med["crmflow"] else None
            vs_duckdb = med["crmflow"] / med["duckdb"] if med["crmflow"] and med["duckdb"] else None
            query = _median([r.get("query_seconds") for r in sides["duckdb"] if "error" not in r])
            v = budget_text = ""
            if n_lines >= 1_000_000:
                want, most = budget["stages_file_ratio"][fmt], budget["stages_file_duckdb"]
                budget_text = f"≥ {want:g}× pandas, ≤ {most:g}× DuckDB, same counts"
                v = verdict(not errors and same and vs_pandas >= want and vs_duckdb <= most)
                verdicts.append((f"`crmflow stages FILE`, {fmt} at {label} ({n_lines:,} lines), whole process: "
                                 + budget_text, v,
                                 errors or f"{fmt_s(med['crmflow'])}: {fmt_ratio(vs_pandas)} pandas, "
                                           f"{fmt_ratio(vs_duckdb)} DuckDB, counts {'same' if same else 'differ'}"))
            lines.append(f"| {label} | {fmt} | {fmt_med_min(fig['crmflow'][0])} | {fmt_bytes(fig['crmflow'][1])} | "
                         f"{fmt_med_min(fig['pandas'][0])} | {fmt_s(med['duckdb'])} ({fmt_s(query)}) | "
                         f"{fmt_ratio(vs_pandas)} | {fmt_ratio(vs_duckdb)} | {'yes' if same else '**no**'} | "
                         f"{budget_text} | {v} |")
            if errors:
                lines.append(f"| | | {errors} | | | | | | | | |")
    lines.append("")
    return lines


def _store_section(results: dict, budget: dict, verdicts: list) -> list[str]:
    """Storing a dataset with `crmflow ingest` (results and fits included), whole process."""
    rows = _sized(results, "store")
    if not rows:
        return []
    lines = _head("Storing a dataset: `crmflow ingest` of the three Parquet files into a new store file",
                  "A fresh process each time; `crmflow ingest` stores the dataset's results and fits before it "
                  "returns (checked afterwards in the store). Peak memory is the largest process's (the command or "
                  "the writing process it starts), not their sum.",
                  ("size", "lines", "whole process: median (min)", "peak memory", "results and fits stored",
                   "in-process (bench.generate)", "budget", "verdict"))
    for label, size in rows:
        seconds, peak, error = _process_figures(size["store"]["runs"])
        stored = size["store"].get("stored") or {"error": "not checked"}
        complete = stored.get("results") is True and stored.get("fits") is True
        stored_text = stored.get("error") or ("yes" if complete else
                                              f"**no** (results {stored.get('results')}, fits {stored.get('fits')})")
        limit, peak_limit = _budget(budget, "store_seconds", label), _budget(budget, "store_peak_bytes", label)
        v = budget_text = ""
        if limit is not None:
            budget_text = f"≤ {fmt_s(limit)}, peak ≤ {fmt_bytes(peak_limit)}"
            v = verdict(not error and complete and _median(seconds) <= limit and peak is not None
                        and peak <= peak_limit)
            verdicts.append((f"storing the {label} dataset (results and fits included): {budget_text}", v,
                             error or f"{fmt_s(_median(seconds))}, peak {fmt_bytes(peak)}, results and fits "
                                      f"stored: {stored_text}"))
        lines.append(f"| {label} | {size['meta'].get('counts', {}).get('transactions', 0):,} | "
                     f"{error or fmt_med_min(seconds)} | {fmt_bytes(peak)} | {stored_text} | "
                     f"{fmt_s(size['meta'].get('ingest_seconds'))} | {budget_text} | {v} |")
    lines.append("")
    return lines


def _dashboard_section(results: dict, budget: dict, verdicts: list) -> list[str]:
    dash = results.get("dashboard")
    if dash is None:
        return ["## Dashboard first page", "", "not measured in this run", ""]
    if "error" in dash:
        return ["## Dashboard first page", "", dash["error"], ""]
    limit = budget["dashboard_seconds"]
    lines = ["## Dashboard first page (streamlit start → Overview stage cards visible in headless Chromium)", "",
             "| start | health answers | stage cards visible: median (min) | first chart | peak memory | "
             "budget | verdict |", "|---|---|---|---|---|---|---|"]
    for kind, label in (("new_database", "new database (demo generated and stored)"),
                        ("restart", "restart (demo already stored)")):
        runs = [r for r in dash.get(kind, []) if "error" not in r]
        if not runs:
            err = (dash.get(kind) or [{}])[0].get("error", "no run")
            lines.append(f"| {label} | {err} | | | | | |")
            continue
        first = [r["first_page"] for r in runs]
        v = verdict(_median(first) <= limit)
        verdicts.append((f"dashboard first page ≤ {fmt_s(limit)}, {label}", v, fmt_s(_median(first))))
        peaks = [r.get("peak_rss") for r in runs if r.get("peak_rss")]
        lines.append(f"| {label} | {fmt_med_min([r['health'] for r in runs])} | {fmt_med_min(first)} | "
                     f"{fmt_med_min([r.get('first_chart') for r in runs])} | "
                     f"{fmt_bytes(max(peaks) if peaks else None)} | ≤ {fmt_s(limit)} | {v} |")
    lines.append("")
    return lines


def _sessions_section(results: dict, verdicts: list) -> list[str]:
    """Ten people at once (bench/sessions.py): page times of concurrent browser sessions."""
    run = results.get("sessions")
    title = "## Concurrent browser sessions on the demo data (bench/sessions.py)"
    if run is None:
        return [title, "", "not measured in this run", ""]
    if "error" in run:
        return [title, "", run["error"], ""]
    limit = run["p95_budget_seconds"]
    v = verdict(bool(run["met"]))
    verdicts.append((f"{run['sessions']} concurrent sessions, demo data: 95th percentile page ≤ {fmt_s(limit)}",
                     v, fmt_s(run["p95_seconds"])))
    lines = [title, "", f"{run['sessions']} sessions at once on one server (127.0.0.1), each opening "
             f"{run['pages_per_session']} pages at random as-of dates (seed {run['seed']}); a page's time runs from "
             "the navigation to its title, the end of its script run and its first chart.", "",
             "| pages served | failed | median | 95th percentile | slowest | wall time | budget | verdict |",
             "|---|---|---|---|---|---|---|---|",
             f"| {run['served']} | {run['failed']} | {fmt_s(run['median_seconds'])} | {fmt_s(run['p95_seconds'])} | "
             f"{fmt_s(run['max_seconds'])} | {fmt_s(run['wall_seconds'])} | p95 ≤ {fmt_s(limit)} | {v} |", ""]
    server, busy = run.get("server_cpu_seconds"), run.get("machine_cpu_seconds")
    if server is not None and busy:
        lines += [f"Where the machine's time went: the cores were busy {fmt_s(busy)} of CPU in all, of which the "
                  f"dashboard's process (Streamlit and crmflow, every page's script run) {fmt_s(server)} "
                  f"({server / busy:.0%}, {fmt_s(server / max(run['served'], 1))} a page served); the rest is "
                  "the headless browsers drawing the pages, which share this machine's cores with the server "
                  "here (a team's browsers run on their own laptops).", ""]
    return lines


def render(results: dict, budget: dict, budget_views, notes) -> str:
    verdicts: list[tuple[str, str, str]] = []
    body: list[str] = []
    for label, size in results["sizes"].items():
        body += _views_section(label, size, budget, budget_views, notes, verdicts)
    body += _commands_section(results, budget, verdicts)
    body += _stages_file_section(results, budget, verdicts)
    body += _store_section(results, budget, verdicts)
    body += _clv_section(results, budget, verdicts)
    body += _ingest_section(results, budget, verdicts)
    body += _dashboard_section(results, budget, verdicts)
    body += _sessions_section(results, verdicts)
    head = [
        "# Benchmark results",
        "",
        f"Written by `bench/run.py` on {results['started']}. Times are wall-clock seconds inside the "
        "measuring process; *warm* = the page's calls repeated on an open connection, *cold* = a new process "
        "opening the store and running them once (the OS file cache is not dropped). Peak memory is the "
        "measuring process's peak resident set. *pandas / crmflow* is the pandas baseline's median over "
        "crmflow's warm median, measured in the same run (higher = crmflow faster). *Whole process* = a fresh "
        "process timed from its start to its exit, with the peak memory of its largest process. See "
        "bench/NOTES.md for the profile of what misses the budget.",
        "",
    ]
    if results.get("merged_from"):
        head += ["Assembled from several runs (later ones re-measured what an earlier one could not):", ""]
        head += [f"- `bench.run {' '.join(r['argv'] or [])}` started {r['started']}"
                 + (", load average " + ", ".join(f"{x:.1f}" for x in r["load_average"]) + " at start, "
                    + ", ".join(f"{x:.1f}" for x in (r["load_average_end"] or ())) + " at end"
                    if r.get("load_average") else "")
                 for r in results["merged_from"]]
        head.append("")
    if results.get("partial"):
        head += ["**Partial: written after a size finished; the run was still going.**", ""]
    head += _machine_section(results)
    head += _data_section(results)
    summary = ["## Budget", "", "| budget line | verdict | measured |", "|---|---|---|"]
    summary += [f"| {line} | {v} | {measured} |" for line, v, measured in verdicts]
    summary.append("")
    return "\n".join(head + summary + body)


def write_results(results: dict, out: Path, budget: dict, budget_views, notes) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results, budget, budget_views, notes), encoding="utf-8")


def merge(runs: list[dict]) -> dict:
    """Several runs' raw figures as one: later runs win per size and page (a
    page re-measured on its own replaces the earlier one), the dashboard from
    the last run that measured it; the machine lines list every run."""
    out = dict(runs[0])
    out["sizes"] = {}
    out["merged_from"] = []
    for run in runs:
        out["merged_from"].append({"started": run["started"], "argv": run.get("argv"),
                                   "load_average": run["machine"].get("load_average"),
                                   "load_average_end": run["machine"].get("load_average_end")})
        for label, size in run.get("sizes", {}).items():
            have = out["sizes"].setdefault(label, {"views": {}})
            for key, value in size.items():
                if key == "views":
                    have["views"].update(value)
                else:
                    have[key] = value
        for key in ("dashboard", "sessions", "version"):
            if run.get(key):
                out[key] = run[key]
    out["seconds"] = sum(r.get("seconds") or 0 for r in runs)
    return out


def main(argv: list[str] | None = None) -> int:
    """python -m bench.results OUT.md RUN.json [RUN.json ...]: write RESULTS.md
    from one or more runs' raw figures (see :func:`merge`)."""
    import json
    import sys

    from bench.run import BUDGET, BUDGET_VIEWS
    from bench.views import NOTES

    args = sys.argv[1:] if argv is None else argv
    runs = [json.loads(Path(p).read_text()) for p in args[1:]]
    write_results(merge(runs) if len(runs) > 1 else runs[0], Path(args[0]), BUDGET, BUDGET_VIEWS, NOTES)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
