"""The command line (SPEC §4): ``python -m crmflow COMMAND ...``.

Every analysis command takes a data file (any supported format) or
``--dataset NAME``; JSON goes to stdout. Any problem with the input ends with
exit status 2 and one line on stderr that says what is wrong and how to fix
it — never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from crmflow import __version__
from crmflow.config import DB_ENV_VAR, Params
from crmflow.errors import CrmflowError
from crmflow.mapping import TABLES, parse_overrides

if TYPE_CHECKING:  # the heavy libraries are imported where a command needs them: `--help`,
    import pandas as pd  # `--version` and a usage error start in a fraction of a second

    from crmflow.ingest import ReadOptions

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error on one line (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CrmflowError(f"{message}", f"See `{self.prog} --help`")


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _source_options(p: argparse.ArgumentParser, *, file_required: bool = False) -> None:
    if file_required:
        p.add_argument("file", metavar="FILE", help="transactions file (CSV/TSV/TXT/XLSX/Parquet)")
    else:
        p.add_argument("file", metavar="FILE", nargs="?", help="transactions file (CSV/TSV/TXT/XLSX/Parquet)")
        p.add_argument("--dataset", metavar="NAME", help="use a stored dataset instead of a file")
    p.add_argument("--customers", metavar="FILE", help="optional customers file")
    p.add_argument("--interactions", metavar="FILE", help="optional interactions file")
    p.add_argument("--surveys", metavar="FILE",
                   help="optional Servqual survey file (date, item, expectation and perception scores; "
                        "long or wide form, see `crmflow servqual`); prefix surveys. in --map")
    p.add_argument("--map", metavar="FIELD=COLUMN", action="append", default=[],
                   help="map a field to a column by name or #position; prefix customers. or interactions. "
                        "for those files (e.g. --map amount=销售额 --map customers.created_at=建档日期); "
                        "--map amount=Quantity*UnitPrice derives the amount as quantity × unit price")
    p.add_argument("--date-format", metavar="dmy|mdy|ymd|PATTERN",
                   help="how to read dates like 03/04/2024 when the data cannot tell (default mdy; ymd reads "
                        "24-01-05 as 2024-01-05), or a strptime pattern for dates in another form, e.g. "
                        "'%%d.%%m.%%Y %%H:%%M' or '%%d-%%b-%%y' (values it does not read get the automatic rules)")
    p.add_argument("--encoding", metavar="[TABLE:]CODEC", action="append", default=[],
                   help="the text encoding of a file when detection gets it wrong (e.g. cp1252, mac_roman, "
                        "cp850, gbk, big5, shift_jis); prefix customers: or interactions: for those files")
    p.add_argument("--header-row", metavar="[TABLE:]N", action="append", default=[],
                   help="the row (1 = first) that holds the column names, when title rows are above it; "
                        "0 = the file has no header row")
    p.add_argument("--sheet", metavar="[TABLE:]NAME", action="append", default=[],
                   help="the Excel sheet to read, or all (sheets appended); prefix customers: or interactions:")
    p.add_argument("--db", metavar="PATH", help=f"database file (default: ${DB_ENV_VAR} or data/crmflow.duckdb)")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a positive number")
    return value


def _analysis_options(p: argparse.ArgumentParser) -> None:
    d = Params()
    p.add_argument("--as-of", type=_iso_date, metavar="YYYY-MM-DD",
                   help="the date D (default: the last order date in the data)")
    p.add_argument("--lost-after-days", type=_positive_int, default=d.lost_after_days, metavar="N")
    p.add_argument("--loyal-orders", type=_positive_int, default=d.loyal_orders, metavar="N")
    p.add_argument("--loyal-window-days", type=_positive_int, default=d.loyal_window_days, metavar="N")
    p.add_argument("--format", choices=("json", "csv"), default="json")
    p.add_argument("--engine", choices=("duckdb", "spark"), default=None,
                   help="where the queries run: duckdb (default, or $CRMFLOW_ENGINE) or spark (needs the spark "
                        "extra and Java 17)")
    p.add_argument("--spark", metavar="MASTER|sc://HOST:PORT", default=None,
                   help="for --engine spark: the Spark master or Spark Connect address "
                        "(default $CRMFLOW_SPARK, else local[*])")


def _analysis_command(sub: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:
    """A command that reads a data source and takes D and the definition parameters."""
    p = sub.add_parser(name, help=help)
    _source_options(p)
    _analysis_options(p)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="crmflow", description="Customer-relationship analytics from sales exports.")
    parser.add_argument("--version", action="version", version=f"crmflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = _analysis_command(sub, "stages", "customers per stage at D")

    p = _analysis_command(sub, "flow", "transitions between stages from D1 to D2")
    p.add_argument("--from", dest="start", type=_iso_date, required=True, metavar="D1")
    p.add_argument("--to", dest="end", type=_iso_date, required=True, metavar="D2")

    p = sub.add_parser("ingest", help="store a file as a named dataset and print its validation report")
    _source_options(p, file_required=True)
    p.add_argument("--name", required=True, help="name of the dataset")
    p.add_argument("--replace", action="store_true", help="replace a dataset of the same name")
    p.add_argument("--format", choices=("text", "json"), default="text")

    p = sub.add_parser("datasets", help="list, rename or delete stored datasets; `audit`: who changed which, when")
    p.add_argument("action", choices=("list", "rename", "delete", "rejected", "report", "audit", "results"))
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--db", metavar="PATH")
    p.add_argument("--out", metavar="FILE", help="for `rejected`: write the rows to this CSV file")
    p.add_argument("--engine", choices=("duckdb", "spark"), default=None,
                   help="for `results`: compute the dataset's stored results on duckdb (default, or "
                        "$CRMFLOW_ENGINE) or spark")
    p.add_argument("--spark", metavar="MASTER|sc://HOST:PORT", default=None,
                   help="for `results --engine spark`: the Spark master (default $CRMFLOW_SPARK, else local[*])")

    p = _analysis_command(sub, "clv", "fit the CLV model (BG/NBD + Gamma-Gamma) and backtest it on a holdout")
    p.add_argument("--calibration-end", type=_iso_date, metavar="YYYY-MM-DD",
                   help="fit on purchases up to this date; the holdout runs from it to the as-of date "
                        "(default: a quarter of the history before the as-of date, at most a year)")
    p.add_argument("--horizon-weeks", type=_positive_float, default=52.0, metavar="W",
                   help="horizon of the per-customer expected orders and value (default 52)")
    p.add_argument("--discount-rate", type=float, default=0.10, metavar="RATE",
                   help="annual discount rate of the expected value (default 0.10)")
    p.add_argument("--model", choices=("auto", "bgnbd", "mbgnbd"), default="auto",
                   help="purchase model: auto (default) chooses BG/NBD or MBG/NBD, plain or penalised fit, by "
                        "the holdout backtest; bgnbd / mbgnbd fit that model by maximum likelihood")

    p = _analysis_command(sub, "rfm", "RFM scores and segment of every customer at D")

    p = _analysis_command(sub, "cohorts", "cohort retention (and revenue) by month of first order, up to D")

    p = _analysis_command(sub, "pareto", "Pareto curve at D: the share of the top 20%% and bottom 30%% of customers")
    p.add_argument("--measure", choices=("revenue", "profit"), default="revenue",
                   help="rank customers by revenue or by profit (profit needs a cost or margin column)")

    p = _analysis_command(sub, "trends", "N/t/D trends: active customers, relationship length and depth per month")
    p.add_argument("--from", dest="start", type=_iso_date, metavar="D1",
                   help="first month of the trend (default: the first order date)")

    p = _analysis_command(sub, "health", "health score, status, trend and life-cycle phase of every key account at D")
    _key_account_options(p)
    p.add_argument("--weights", metavar="COMPONENT=W,...",
                   help="override health weights, e.g. recency=30,margin=0 (components: recency, order_trend, "
                        "revenue_trend, margin, payment, contact, complaints, breadth)")

    p = _analysis_command(sub, "matrix", "value matrix at D: current x potential value and quadrant per customer")
    _key_account_options(p)
    p.add_argument("--scope", choices=("customers", "key_accounts"), default="customers",
                   help="every customer with an order (default) or the key accounts only")
    p.add_argument("--current-cut", type=float, metavar="X",
                   help="current value above X is high (default: the median)")
    p.add_argument("--potential-cut", type=float, metavar="X",
                   help="potential value above X is high (default: the median)")

    p = _analysis_command(sub, "churn", "customers at risk of leaving at D: risk score, value at risk and reasons")
    p.add_argument("--all", dest="include_all", action="store_true",
                   help="list every customer who is not lost, not only the call list (the customers who together "
                        "carry 80%% of the value at risk)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the reasons (default en)")
    p.add_argument("--track-record", action="store_true",
                   help="print instead how the warnings did on this data's own past (warnings of D - h against "
                        "who left by D), as JSON with the key track_record")
    p.add_argument("--track-record-format", choices=("json", "text"),
                   help="the track record as json (default) or a few lines of text; implies --track-record")

    p = _analysis_command(sub, "loyalty", "loyalty measures at D by stage or RFM segment: repeat-purchase rate, "
                                          "category breadth, purchase regularity, complainers who ordered again, "
                                          "orders at a discount")
    p.add_argument("--by", choices=("stage", "segment"), default="stage",
                   help="group the customers by their stage (default) or RFM segment at D")
    p.add_argument("--per-customer", action="store_true",
                   help="one row per customer with an order on or before D instead of one per group")

    p = _analysis_command(sub, "prospects", "conversion prospects at D: who is likely to take the next stage step "
                                        "(potential -> first, first -> repeat, repeat -> loyal), why, and its value")
    p.add_argument("--horizon-days", type=_positive_int, default=None, metavar="N",
                   help="the step within N days after D (default 90); learned on the N days before D, so an N "
                        "reaching before the data's first order date is refused")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the reasons (default en)")
    p.add_argument("--track-record", action="store_true",
                   help="print instead how the list did on this data's own past (the list of D - N against who "
                        "took a step by D), as JSON with the key track_record")

    p = sub.add_parser("report", help="write the meeting report (HTML or PowerPoint, by the --out extension)")
    _report_options(p)

    p = sub.add_parser("users", help="the dashboard's sign-in users file (CRMFLOW_USERS): add or list users")
    p.add_argument("action", choices=("add", "list"))
    p.add_argument("name", nargs="?", metavar="NAME", help="for `add`: the user name (with --email: the e-mail "
                   "address the identity provider signs in)")
    p.add_argument("--role", choices=("admin", "analyst", "manager"), help="for `add`: the user's role")
    p.add_argument("--owner", metavar="OWNER", help="for `add`: the owner (account manager) a manager sees")
    p.add_argument("--email", action="store_true",
                   help="for `add`: an identity-provider (OIDC) user, mapped by e-mail address; no password")
    p.add_argument("--password-stdin", action="store_true",
                   help="for `add`: read the password from standard input (default: asked without echo)")
    p.add_argument("--users", metavar="PATH", help="the users file (default: $CRMFLOW_USERS), .toml or .json")

    p = sub.add_parser("demo", help="write the demo data as CSV files (or store it with --store)")
    p.add_argument("--out", metavar="DIR", default="data/demo")
    p.add_argument("--store", action="store_true", help="store it as the dataset 'demo' instead")
    p.add_argument("--db", metavar="PATH")
    _servqual_parser(sub)
    return parser


# --------------------------------------------------------------------------- helpers
@dataclass
class Source:
    store: object
    dataset_id: int
    name: str


def _overrides(items: Sequence[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {t: {} for t in TABLES}
    for field, column in parse_overrides(items).items():
        table, dot, rest = field.partition(".")
        if dot and table in TABLES:
            out[table][rest] = column
        else:
            out["transactions"][field] = column
    return out


def _read_options(args: argparse.Namespace) -> dict[str, ReadOptions]:
    """--encoding, --header-row and --sheet, each ``[TABLE:]VALUE`` (no TABLE:
    the transactions file), as ReadOptions per table."""
    values: dict[str, dict[str, object]] = {}
    for option, attr in (("--encoding", "encoding"), ("--header-row", "header_row"), ("--sheet", "sheet")):
        for item in getattr(args, attr, None) or ():
            table, colon, value = item.partition(":")
            if not (colon and table in TABLES):
                table, value = "transactions", item
            value = value.strip()
            if attr == "header_row":
                if not value.isdigit():
                    raise CrmflowError(f"{option} {item!r} is not a row number",
                                       f"Write it like {option} 3 (the 3rd row holds the column names), "
                                       f"or {option} 0 when the file has no header row")
                values.setdefault(table, {})[attr] = int(value)
            elif not value:
                raise CrmflowError(f"{option} {item!r} gives no value", f"Write it like {option} VALUE")
            else:
                values.setdefault(table, {})[attr] = value
    from crmflow.ingest import ReadOptions

    return {table: ReadOptions(**fields) for table, fields in values.items()}


@contextlib.contextmanager
def open_source(args: argparse.Namespace) -> Iterator[Source]:
    """The data an analysis command reads: a file loaded in memory, or a stored dataset."""
    from crmflow.ingest import date_format_option
    from crmflow.store import Store, load_file_dataset

    engine = _engine(args)
    if getattr(args, "dataset", None):
        if args.file:
            raise CrmflowError("Give either a FILE or --dataset, not both", "Drop one of them")
        store = Store(args.db, read_only=True)  # reading only: works beside an open dashboard
        try:
            ds = store.get(args.dataset)
            _use_engine(store, engine, args)
            yield Source(store, ds.dataset_id, ds.name)
        finally:
            store.close()
        return
    if not args.file:
        raise CrmflowError("No data given", "Pass a transactions FILE or --dataset NAME")
    store, result = load_file_dataset(args.file, args.customers, args.interactions,
                                      overrides=_overrides(args.map),
                                      date_preference=date_format_option(args.date_format),
                                      read_options=_read_options(args), surveys=args.surveys)
    try:
        for report in result.reports:
            if report.rows_rejected:
                reasons = "; ".join(f"{n} × {r}" for r, n in report.rejected_by_reason.items())
                print(f"crmflow: note: {report.rows_rejected} of {report.rows_read} {report.table} rows "
                      f"were not used ({reasons})", file=sys.stderr)
            for note in report.warnings:
                if getattr(note, "key", "").startswith("dates_"):  # how dates were read (day/month order, years)
                    print(f"crmflow: note: {report.table}: {note}", file=sys.stderr)
        _use_engine(store, engine, args)
        yield Source(store, result.dataset.dataset_id, result.dataset.name)
    finally:
        store.close()


def _engine(args: argparse.Namespace) -> str:
    """The engine an analysis command runs on (--engine, else $CRMFLOW_ENGINE); for
    Spark, pyspark and Java are checked before any file is read."""
    from crmflow.engine_spark import check_available, engine_name

    engine = engine_name(getattr(args, "engine", None))
    if engine == "spark":
        check_available(getattr(args, "spark", None))
    return engine


def _use_engine(store: object, engine: str, args: argparse.Namespace) -> None:
    """With Spark, the store's analytic queries run on Spark (its dataset list stays in DuckDB)."""
    if engine == "spark":
        from crmflow.engine_spark import SparkDatabase

        store.db = SparkDatabase(store.db, master=getattr(args, "spark", None))  # type: ignore[attr-defined]


def _params(args: argparse.Namespace) -> Params:
    return Params(args.lost_after_days, args.loyal_orders, args.loyal_window_days)


def _write_csv(rows: list[dict], columns: Sequence[str]) -> None:
    """Every CSV the command line writes: text cells a spreadsheet would read as
    a formula (= + - @, tab, CR at the start) get a leading apostrophe."""
    from crmflow.exports import neutralise

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: neutralise(v) for k, v in r.items()} for r in rows)
    sys.stdout.write(buf.getvalue())


def _print_json(doc: object) -> None:
    """Every JSON document the command line prints: UTF-8 text, two-space indent,
    numpy numbers as numbers, anything else unknown as its text. orjson writes it:
    a view's rows at 1M orders (about 100k objects) take 0.05 s there, 1.7-2.7 s
    through the standard library's encoder."""
    import orjson

    options = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    sys.stdout.write(orjson.dumps(doc, default=str, option=options).decode() + "\n")


# --------------------------------------------------------------------------- commands
def cmd_stages(args: argparse.Namespace) -> int:
    from crmflow.stages import resolve_as_of, stage_counts

    params = _params(args)
    with open_source(args) as src:
        as_of = resolve_as_of(src.store.db, src.dataset_id, args.as_of)
        counts = stage_counts(src.store.db, src.dataset_id, as_of, params)
    if args.format == "csv":
        _write_csv([{"as_of": as_of.isoformat(), "stage": s, "customers": n} for s, n in counts.items()],
                   ("as_of", "stage", "customers"))
    else:
        _print_json({"as_of": as_of.isoformat(), "counts": counts})
    return 0


def cmd_flow(args: argparse.Namespace) -> int:
    from crmflow.stages import flow

    with open_source(args) as src:
        df = flow(src.store.db, src.dataset_id, args.start, args.end, _params(args))
    transitions = [{"from": f, "to": t, "customers": int(n)}
                   for f, t, n in zip(df["from_stage"], df["to_stage"], df["customers"])]
    if args.format == "csv":
        _write_csv(transitions, ("from", "to", "customers"))
    else:
        _print_json({"from": args.start.isoformat(), "to": args.end.isoformat(), "transitions": transitions})
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from crmflow.ingest import date_format_option, report_text
    from crmflow.store import Store

    with Store(args.db, shared=True) as store:
        result = store.ingest(args.name, args.file, args.customers, args.interactions,
                              overrides=_overrides(args.map), date_preference=date_format_option(args.date_format),
                              read_options=_read_options(args), replace=args.replace, via="command line",
                              surveys=args.surveys)
    ds = result.dataset
    if args.format == "json":
        _print_json({"dataset": ds.name, "dataset_id": ds.dataset_id, "report": ds.report})
    else:
        print(f"Stored dataset {ds.name!r}: {ds.n_transactions} transactions, {ds.n_customers} customers, "
              f"{ds.n_interactions} interactions, {ds.n_rejected} rows rejected.")
        print(report_text(result.reports))
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from crmflow.store import Store

    need = {"list": 0, "rename": 2, "delete": 1, "rejected": 1, "report": 1, "audit": 0, "results": 1}[args.action]
    if len(args.names) != need:
        raise CrmflowError(f"`datasets {args.action}` takes {need} name(s), got {len(args.names)}",
                           "e.g. crmflow datasets rename OLD NEW")
    if args.action == "results":
        return _dataset_results(args)
    # reading actions open the file read-only (they work beside an open dashboard)
    with Store(args.db, read_only=args.action in ("list", "report", "rejected", "audit"),
               shared=args.action in ("rename", "delete")) as store:
        if args.action == "list":
            df = store.datasets()
            if df.empty:
                print("No datasets stored yet. Add one with: crmflow ingest FILE --name NAME")
            else:
                print(df.to_string(index=False))
        elif args.action == "rename":
            ds = store.rename(*args.names, via="command line")
            print(f"Renamed {args.names[0]!r} to {ds.name!r}.")
        elif args.action == "delete":
            store.delete(args.names[0], via="command line")
            print(f"Deleted dataset {args.names[0]!r}.")
        elif args.action == "report":
            _print_json(store.get(args.names[0]).report)
        elif args.action == "audit":
            df = store.audit()
            if df.empty:
                print("No changes recorded yet.")
            else:
                df["changed_at"] = df["changed_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
                print(df.drop(columns=["dataset_id"]).fillna("").to_string(index=False))
        else:
            from crmflow.exports import safe_csv

            rows = store.rejected_rows(args.names[0])
            if args.out:
                Path(args.out).write_text(safe_csv(rows), encoding="utf-8-sig")
                print(f"Wrote {len(rows)} rejected rows to {args.out}.")
            else:
                sys.stdout.write(safe_csv(rows))
    return 0


def _dataset_results(args: argparse.Namespace) -> int:
    """``datasets results NAME``: compute and store the dataset's results
    (crmflow.results) again, on DuckDB or on Spark (crmflow.engine_spark)."""
    from crmflow import results
    from crmflow.store import Store

    engine = _engine(args)
    with Store(args.db) as store:
        ds = store.get(args.names[0])
        if engine == "spark":
            from crmflow.engine_spark import compute_results

            compute_results(store.db, ds.dataset_id, master=args.spark)
        else:
            results.compute(store.db, ds.dataset_id)
    print(f"Stored the results of dataset {ds.name!r} (computed on {engine}).")
    return 0


def cmd_clv(args: argparse.Namespace) -> int:
    from crmflow import model
    from crmflow.stages import resolve_as_of

    if not -1 < args.discount_rate < 10:
        raise CrmflowError(f"--discount-rate {args.discount_rate} is out of range",
                           "Give an annual rate such as 0.10 for 10%")
    with open_source(args) as src:
        db = src.store.db
        end = resolve_as_of(db, src.dataset_id, args.as_of)
        if args.calibration_end is not None:
            # SPEC §4: the fit at the calibration end, and its forecast of (calibration end, D]
            bt = model.backtest_between(db, src.dataset_id, args.calibration_end, end, args.model)
            fit = bt.fit
        else:
            # the fit the pages use (at D) for parameters and predictions; the backtest at D - h
            bt = model.backtest(db, src.dataset_id, end, model=args.model)
            fit = model.fit_clv(db, src.dataset_id, end, args.model)
        # SPEC §2's reference fits at the same date: BG/NBD (the published CDNOW
        # parameters) and MBG/NBD by maximum likelihood, whichever fit was chosen
        reference = {name: (fit if fit.choice.chosen.name == f"{name}_ml"
                            else model.fit_clv(db, src.dataset_id, fit.calibration_end, name))
                     for name in model.MODELS}
        # the intervals stored with the fit at D are read while the store is open
        pred = fit.predict(args.horizon_weeks, args.discount_rate) if args.format == "csv" else None
    for message in fit.messages:
        if "converged (" not in message:
            print(f"crmflow: note: {message}", file=sys.stderr)
    if pred is not None:
        cols = model.PREDICTION_COLUMNS
        rows = [{c: (round(float(v), 6) if c != "customer_id" else v) for c, v in zip(cols, r)}
                for r in pred[list(cols)].itertuples(index=False)]
        _write_csv(rows, cols)
        return 0
    params = fit.parameters()
    doc = {
        "calibration_end": fit.calibration_end.isoformat(),
        "holdout_end": end.isoformat(),
        "model": fit.model,
        "fit": fit.choice.chosen.fit_kind,
        "choice": fit.choice.as_dict(),
        "purchase": params["purchase"],
        "bgnbd": dict(reference["bgnbd"].purchase.params_),
        "mbgnbd": dict(reference["mbgnbd"].purchase.params_),
        "gamma_gamma": params["gamma_gamma"],
        "standard_errors": fit.standard_errors(),
        "customers": fit.customers,
        "holdout_expected_orders": round(bt.predicted_total, 4),
        "holdout_actual_orders": bt.actual_total,
        "converged": fit.converged,
        "messages": list(fit.messages),
        "backtest": bt.as_dict(),
    }
    _print_json(doc)
    return 0


def _number(value: object) -> object:
    """A JSON/CSV-ready number: ints stay ints, floats are rounded to 4 places, NaN is null."""
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    return value


def _round4(value: float) -> float:
    return round(value, 4)


def _round2(value: float) -> float:
    return round(value, 2)


def _cell(value: object, rounder: Callable[[float], float]) -> object:
    """One cell of a column that is not plain numbers: text and lists as they are,
    missing (None, NaN, NaT, NA) as null, dates as ISO text, numbers as :func:`_column`."""
    if value is None or isinstance(value, (str, list, tuple)):
        return value
    if isinstance(value, date):
        return None if value != value else value.isoformat()  # NaT is a date that is not equal to itself
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else rounder(value)
    import pandas as pd

    return None if pd.isna(value) is True else value


def _column(values: pd.Series, rounder: Callable[[float], float]) -> list:
    """A column's JSON/CSV-ready cells: ints and booleans as they are, floats
    through ``rounder`` (NaN as null), other cells by :func:`_cell`. Plain numpy
    columns convert in one call; a view's rows at 1M orders are about 100k."""
    import numpy as np

    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iub":
        return values.tolist()
    if isinstance(values.dtype, np.dtype) and values.dtype.kind == "f":
        if rounder is _round4:  # the common case without a call per cell
            return [None if v != v else round(v, 4) for v in values.tolist()]
        return [None if v != v else rounder(v) for v in values.tolist()]
    return [_cell(v, rounder) for v in values.tolist()]


def _records(frame: pd.DataFrame, columns: Sequence[str],
             rounders: dict[str, Callable[[float], float]] | None = None) -> list[dict]:
    """The rows the command line prints, built column by column: floats rounded
    to 4 places unless ``rounders`` names another rounding for a column."""
    rounders = rounders or {}
    cells = [_column(frame[c], rounders.get(c, _round4)) for c in columns]
    return [dict(zip(columns, row)) for row in zip(*cells)]


def _write_rows(rows: list[dict], columns: Sequence[str], fmt: str) -> None:
    """JSON: a top-level array of row objects; CSV: a header and the rows, text cells
    that a spreadsheet would read as a formula neutralised."""
    if fmt == "csv":
        from crmflow.exports import neutralise

        _write_csv([{k: ("" if v is None else neutralise(v)) for k, v in r.items()} for r in rows], columns)
    else:
        _print_json(rows)


RFM_CLI_COLUMNS = ("customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
                   "segment")


def cmd_rfm(args: argparse.Namespace) -> int:
    from crmflow.analytics import rfm, segment_name
    from crmflow.stages import resolve_as_of

    with open_source(args) as src:
        as_of = resolve_as_of(src.store.db, src.dataset_id, args.as_of)
        df = rfm(src.store.db, src.dataset_id, as_of)
    df["segment"] = [segment_name(s, "en") for s in df["segment"]]
    _write_rows(_records(df, RFM_CLI_COLUMNS), RFM_CLI_COLUMNS, args.format)
    return 0


def cmd_cohorts(args: argparse.Namespace) -> int:
    from crmflow.analytics import COHORT_COLUMNS, cohort_retention
    from crmflow.stages import resolve_as_of

    with open_source(args) as src:
        as_of = resolve_as_of(src.store.db, src.dataset_id, args.as_of)
        df = cohort_retention(src.store.db, src.dataset_id, as_of)
    _write_rows(_records(df, COHORT_COLUMNS), COHORT_COLUMNS, args.format)
    return 0


def cmd_pareto(args: argparse.Namespace) -> int:
    from crmflow.analytics import PARETO_COLUMNS, pareto, pareto_headline
    from crmflow.stages import resolve_as_of

    with open_source(args) as src:
        as_of = resolve_as_of(src.store.db, src.dataset_id, args.as_of)
        curve = pareto(src.store.db, src.dataset_id, as_of, args.measure)
    head = pareto_headline(curve)
    rows = _records(curve, PARETO_COLUMNS)
    if args.format == "csv":
        _write_rows(rows, PARETO_COLUMNS, "csv")
    else:
        _print_json({"as_of": as_of.isoformat(), "measure": args.measure, "customers": head.customers,
                     "top20_share": _number(head.top20_share), "bottom30_share": _number(head.bottom30_share),
                     "curve": rows})
    return 0


def cmd_trends(args: argparse.Namespace) -> int:
    from crmflow.analytics import NTD_COLUMNS, ntd_trends
    from crmflow.stages import data_range, resolve_as_of

    with open_source(args) as src:
        db = src.store.db
        as_of = resolve_as_of(db, src.dataset_id, args.as_of)
        start = args.start if args.start is not None else data_range(db, src.dataset_id)[0]
        df = ntd_trends(db, src.dataset_id, start, as_of, _params(args))
    _write_rows(_records(df, NTD_COLUMNS), NTD_COLUMNS, args.format)
    return 0


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text} must be above 0 and at most 1 (e.g. 0.8 for 80%)")
    return value


def _key_account_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key-share", type=_share, default=0.8, metavar="S",
                   help="without flagged key accounts: the top customers making up this share of "
                        "12-month revenue (default 0.8)")
    p.add_argument("--max-accounts", type=_positive_int, default=50, metavar="N",
                   help="at most this many key accounts by revenue (default 50)")


def cmd_health(args: argparse.Namespace) -> int:
    from crmflow import health
    from crmflow.stages import resolve_as_of

    weights = health.parse_weights(args.weights) if args.weights else None
    with open_source(args) as src:
        as_of = resolve_as_of(src.store.db, src.dataset_id, args.as_of)
        df = health.account_health(src.store.db, src.dataset_id, as_of, _params(args), weights,
                                   args.key_share, args.max_accounts)
    columns = health.HEALTH_CLI_COLUMNS
    rows = _records(df, columns, dict.fromkeys(("health_score", "score_90d_ago", *health.COMPONENTS),
                                               health.round_score))
    _write_rows(rows, columns, args.format)
    return 0


def cmd_matrix(args: argparse.Namespace) -> int:
    from crmflow.health import MATRIX_CLI_COLUMNS, value_matrix
    from crmflow.stages import resolve_as_of

    with open_source(args) as src:
        as_of = resolve_as_of(src.store.db, src.dataset_id, args.as_of)
        df = value_matrix(src.store.db, src.dataset_id, as_of, args.scope, args.current_cut, args.potential_cut,
                          args.key_share, args.max_accounts)
    _write_rows(_records(df, MATRIX_CLI_COLUMNS, {}), MATRIX_CLI_COLUMNS, args.format)
    return 0


CHURN_CLI_COLUMNS = ("customer_id", "stage", "risk_score", "value_at_risk", "reasons", "owner",
                     "probability_leave", "p_alive", "expected_value", "on_call_list")


def _churn_track_lines(record: dict, lang: str) -> list[str]:
    """The track record as a few lines of text (``crmflow churn --track-record-format text``)."""
    from crmflow.churn import track_verdict
    from crmflow.i18n import t

    def pct(v: float | None) -> str:
        return "—" if v is None else f"{v:.0%}"

    lines = [track_verdict(record, lang)]
    if record["auc"] is not None:
        lines.append(t("ct_cli_track", lang, past=record["scored_at"], end=record["outcome_end"],
                       auc=f"{record['auc']:.3f}", recency=f"{record['recency_auc']:.3f}"))
        lines.append(t("ct_cli_caught", lang, caught=pct(record["caught_share"]),
                       value=pct(record["caught_value_share"]), r_caught=pct(record["recency_caught_share"]),
                       r_value=pct(record["recency_caught_value_share"])))
        lines += [t("ct_cli_band", lang, **band) for band in record["calibration"]]
    return lines


def cmd_churn(args: argparse.Namespace) -> int:
    from crmflow.churn import churn_warnings, empty_list_note, track_record
    from crmflow.stages import resolve_as_of

    with open_source(args) as src:
        as_of = resolve_as_of(src.store.db, src.dataset_id, args.as_of)
        if args.track_record or args.track_record_format:
            record = track_record(src.store.db, src.dataset_id, as_of, _params(args))
            if args.track_record_format == "text":
                print("\n".join(_churn_track_lines(record, args.lang)))
            else:
                _print_json({"as_of": as_of.isoformat(), "track_record": record})
            return 0
        df = churn_warnings(src.store.db, src.dataset_id, as_of, _params(args), include_all=args.include_all,
                            lang=args.lang)
        if not args.include_all and df.empty:  # say why the list is empty (nobody carries value at risk)
            everyone = churn_warnings(src.store.db, src.dataset_id, as_of, _params(args), include_all=True,
                                      lang=args.lang)
            note = empty_list_note(everyone, _params(args).lost_after_days, args.lang)
            if note:
                print(note, file=sys.stderr)
    reasons = [("; ".join(r) if args.format == "csv" else list(r)) for r in df["reasons_text"]]
    rows = _records(df.assign(reasons=reasons, on_call_list=df["on_call_list"].astype(bool)), CHURN_CLI_COLUMNS,
                    dict.fromkeys(("value_at_risk", "expected_value"), _round2))
    _write_rows(rows, CHURN_CLI_COLUMNS, args.format)
    return 0


PROSPECTS_CLI_COLUMNS = ("customer_id", "stage", "next_stage", "probability", "expected_value", "move_value",
                         "reasons", "owner", "region", "days_in_stage", "first_order_value", "first_category",
                         "contacts")


def cmd_prospects(args: argparse.Namespace) -> int:
    from crmflow.i18n import t
    from crmflow.prospects import DEFAULT_HORIZON_DAYS, check_horizon, prospects, track_record
    from crmflow.stages import resolve_as_of

    with open_source(args) as src:
        as_of = resolve_as_of(src.store.db, src.dataset_id, args.as_of)
        horizon = DEFAULT_HORIZON_DAYS if args.horizon_days is None else args.horizon_days
        if args.horizon_days is not None:  # a chosen horizon must leave a past to learn from
            check_horizon(src.store.db, src.dataset_id, as_of, horizon)
        if args.track_record:
            record = track_record(src.store.db, src.dataset_id, as_of, _params(args), horizon)
            _print_json({"as_of": as_of.isoformat(), "track_record": record})
            return 0
        result = prospects(src.store.db, src.dataset_id, as_of, _params(args), horizon, args.lang)
    for key in result.notes:  # what is missing, and which file unlocks it
        print(f"crmflow: note: {t(key, args.lang, days=result.horizon_days)}", file=sys.stderr)
    rows = _records(result.frame.drop(columns=["reasons"]), [c for c in PROSPECTS_CLI_COLUMNS if c != "reasons"], {})
    for row, words in zip(rows, result.frame["reasons_text"]):
        row["reasons"] = "; ".join(words) if args.format == "csv" else list(words)
    _write_rows([{c: row[c] for c in PROSPECTS_CLI_COLUMNS} for row in rows], PROSPECTS_CLI_COLUMNS, args.format)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from crmflow.demo import generate

    if args.store:
        from crmflow.store import Store

        with Store(args.db, shared=True) as store:
            ds = store.ensure_demo()
        print(f"Dataset {ds.name!r}: {ds.n_transactions} transactions, {ds.n_customers} customers, "
              f"{ds.n_interactions} interactions.")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = generate()
    for table in ("transactions", "customers", "interactions", "surveys"):
        frame: pd.DataFrame = getattr(data, table)
        frame.to_csv(out / f"{table}.csv", index=False, date_format="%Y-%m-%d")
    print(f"Wrote transactions.csv, customers.csv, interactions.csv and surveys.csv (a Servqual survey) to {out}/")
    return 0


COMMANDS = {"clv": cmd_clv, "stages": cmd_stages, "flow": cmd_flow, "ingest": cmd_ingest, "datasets": cmd_datasets,
            "demo": cmd_demo,
            "rfm": cmd_rfm, "cohorts": cmd_cohorts, "pareto": cmd_pareto, "trends": cmd_trends}

COMMANDS.update({"health": cmd_health, "matrix": cmd_matrix})
COMMANDS.update({"churn": cmd_churn})
COMMANDS.update({"prospects": cmd_prospects})


def cmd_users(args: argparse.Namespace) -> int:
    """``users add NAME --role ROLE [--owner OWNER] [--email]`` and ``users list``."""
    from crmflow import auth

    path = args.users or auth.users_path()
    if path is None:
        raise CrmflowError(key="auth_no_users_file")
    warning = auth.users_file_warning(path)
    if warning:
        print(warning, file=sys.stderr)
    if args.action == "list":
        rows = auth.list_users(path)
        if not rows:
            print(f"No users in {path}.")
        for row in rows:
            owner = f"  owner: {row['owner']}" if row["owner"] else ""
            print(f"{row['name']}  ({row['kind']})  {row['role']}{owner}")
        return 0
    if not args.name or not args.role:
        raise CrmflowError(key="auth_add_usage")
    password = None
    if not args.email:
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            import getpass

            password = getpass.getpass(f"Password for {args.name}: ")
            if getpass.getpass("Again: ") != password:
                raise CrmflowError(key="auth_password_mismatch")
    auth.add_user(path, args.name, args.role, args.owner, password=password, email=args.email)
    print(f"Saved {'identity-provider user' if args.email else 'user'} {args.name!r} ({args.role}) in {path}.")
    return 0


COMMANDS.update({"users": cmd_users})


# --------------------------------------------------------------------------- servqual (issue 17)
SERVQUAL_CSV_COLUMNS = ("level", "dimension", "item", "count", "expectation", "perception", "gap", "ci_low",
                        "ci_high")


def _servqual_parser(sub: argparse._SubParsersAction) -> None:
    p = _analysis_command(sub, "servqual", "Servqual service-quality gaps (perception - expectation) per "
                                           "dimension and item, over time, by group, and against churn")
    p.add_argument("--period", choices=("month", "quarter"), default="quarter",
                   help="period of the gap trend (default quarter)")
    p.add_argument("--by", choices=("region", "owner", "segment"), default="region",
                   help="group the dimension gaps by region, account manager or RFM segment (default region)")
    p.add_argument("--dimension", choices=("tangibles", "reliability", "responsiveness", "assurance", "empathy"),
                   default="reliability", help="the dimension whose worst quartile is compared for churn "
                                               "(default reliability)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the churn sentence (default en)")


def cmd_servqual(args: argparse.Namespace) -> int:
    from crmflow import servqual
    from crmflow.stages import resolve_as_of

    with open_source(args) as src:
        as_of = resolve_as_of(src.store.db, src.dataset_id, args.as_of)
        view = servqual.servqual_view(src.store.db, src.dataset_id, as_of, period=args.period, by=args.by,
                                      dimension=args.dimension, params=_params(args))
        if not view.has_survey:
            raise CrmflowError(key="servqual_no_survey", name=src.name)
    if view.dimensions.empty:
        print(f"crmflow: note: no survey answer is dated on or before {as_of} (give a later --as-of)", file=sys.stderr)
    dims = view.dimensions.rename(columns={"responses": "count"}).assign(level="dimension", item=None)
    items = view.items.rename(columns={"answers": "count"}).assign(level="item")
    rows = _records(dims, SERVQUAL_CSV_COLUMNS) + _records(items, SERVQUAL_CSV_COLUMNS)
    if args.format == "csv":
        _write_rows(rows, SERVQUAL_CSV_COLUMNS, "csv")
        return 0
    _print_json({
        "as_of": as_of.isoformat(),
        "answers": view.coverage["answers"], "answers_with_customer": view.coverage["answers_with_customer"],
        "scale": f"{view.coverage['scale_min']}-{view.coverage['scale_max']}",
        "dimensions": _records(view.dimensions, servqual.DIMENSION_COLUMNS),
        "items": _records(view.items, servqual.ITEM_COLUMNS),
        "trend": {"period": view.period, "rows": _records(view.trend, servqual.TREND_COLUMNS)},
        "by_group": {"by": view.group, "rows": _records(view.by_group, servqual.GROUP_COLUMNS)},
        "churn": None if view.churn is None else {k: _number(v) for k, v in view.churn.to_dict().items()},
        "churn_text": servqual.churn_sentence(view.churn, args.lang, view.churn_reason),
        "health": None if view.health is None else {k: _number(v) for k, v in view.health.to_dict().items()},
        "health_text": servqual.health_sentence(view.health, args.lang, view.health_reason),
    })
    return 0


COMMANDS.update({"servqual": cmd_servqual})


def _report_options(p: argparse.ArgumentParser) -> None:
    d = Params()
    _source_options(p)
    p.add_argument("--out", required=True, metavar="PATH", help="the report file: .html or .pptx")
    p.add_argument("--as-of", type=_iso_date, metavar="YYYY-MM-DD",
                   help="the date D (default: the last order date in the data)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="language of the report (default en)")
    p.add_argument("--lost-after-days", type=_positive_int, default=d.lost_after_days, metavar="N")
    p.add_argument("--loyal-orders", type=_positive_int, default=d.loyal_orders, metavar="N")
    p.add_argument("--loyal-window-days", type=_positive_int, default=d.loyal_window_days, metavar="N")


def cmd_report(args: argparse.Namespace) -> int:
    from crmflow import report
    from crmflow.stages import resolve_as_of

    out = Path(args.out)
    fmt = report.format_for(out)
    if not out.parent.is_dir():
        raise CrmflowError(f"Cannot write {out}: the folder {out.parent} does not exist", "Create it first")
    if fmt == "pptx" and report.chromium_path() is None:
        raise CrmflowError("Cannot write the PowerPoint report: Chromium is not installed", report.CHROMIUM_HINT)
    params = _params(args)
    with open_source(args) as src:
        db = src.store.db
        as_of = resolve_as_of(db, src.dataset_id, args.as_of)
        slides = report.build_slides(db, src.dataset_id, as_of, params, args.lang)
        info = report.report_info(db, src.dataset_id, src.name, as_of, params, args.lang)
    try:
        data = report.render(slides, info, fmt)
    finally:
        report.stop_image_server()
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise CrmflowError(f"Cannot write {out}: {exc.strerror or exc}", "Choose another --out path") from None
    for slide in slides:
        if slide.failed:
            print(f"crmflow: note: slide {slide.key!r}: {slide.message}", file=sys.stderr)
    print(f"Wrote {out} ({len(slides)} slides, as of {as_of.isoformat()}, {len(data) / 1e6:.1f} MB).")
    return 0


COMMANDS.update({"report": cmd_report})


def cmd_loyalty(args: argparse.Namespace) -> int:
    from crmflow.i18n import t
    from crmflow.loyalty import CUSTOMER_COLUMNS, GROUP_COLUMNS, UNLOCKS, availability, by_group, with_groups
    from crmflow.stages import resolve_as_of

    params = _params(args)
    with open_source(args) as src:
        db = src.store.db
        as_of = resolve_as_of(db, src.dataset_id, args.as_of)
        missing = availability(db, src.dataset_id).missing()
        if args.per_customer:
            frame = with_groups(db, src.dataset_id, as_of, params, args.by).rename(columns={"group": args.by})
            columns = (CUSTOMER_COLUMNS[0], args.by, *CUSTOMER_COLUMNS[1:])
        else:
            frame, columns = by_group(db, src.dataset_id, as_of, params, args.by), GROUP_COLUMNS
    for need in missing:
        print(f"crmflow: note: {t(UNLOCKS[need], 'en')}", file=sys.stderr)
    rows = _records(frame.astype(object).where(frame.notna(), None), columns)
    if args.format == "csv":
        _write_rows(rows, columns, "csv")
    else:
        _print_json({"as_of": as_of.isoformat(), "by": args.by, "window_days": params.loyal_window_days,
                     "missing": list(missing), "customers" if args.per_customer else "groups": rows})
    return 0


COMMANDS.update({"loyalty": cmd_loyalty})


def _is_engine_error(exc: BaseException) -> bool:
    duckdb = sys.modules.get("duckdb")  # an engine error means the engine was imported
    return duckdb is not None and isinstance(exc, duckdb.Error)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except CrmflowError as exc:
        print(f"crmflow: error: {exc.line()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("crmflow: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("crmflow: error: Out of memory while processing the data. Try a smaller file or a machine "
              "with more memory.", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        if _is_engine_error(exc):  # the database file itself failed: its own true message
            from crmflow.config import database_path
            from crmflow.db import storage_error

            known = storage_error(exc, database_path(getattr(locals().get("args"), "db", None)))
            if known is not None:
                print(f"crmflow: error: {known.line()}", file=sys.stderr)
                return EXIT_BAD_INPUT
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"crmflow: error: Unexpected problem ({type(exc).__name__}{': ' + first if first else ''}). "
              "Check the input file; if it looks right, please report this.", file=sys.stderr)
        return EXIT_BAD_INPUT
