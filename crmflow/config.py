"""Defaults and settings in one place.

The definition parameters (SPEC §2) are a frozen dataclass so that every
function that computes a view takes them explicitly and caches can key on them.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERIES_DIR = ROOT / "queries"
DEFAULT_DB_PATH = ROOT / "data" / "crmflow.duckdb"
DB_ENV_VAR = "CRMFLOW_DB"
DEMO_DATASET = "demo"
#: Names the dataset a URL without ``?dataset=`` opens (see Store.default_name).
DEFAULT_DATASET_ENV_VAR = "CRMFLOW_DEFAULT_DATASET"

#: The stages in flow order; ``none`` means "does not exist yet at that date".
STAGES = ("potential", "first", "repeat", "loyal", "lost")
STAGES_WITH_NONE = ("none",) + STAGES

#: Interaction types (lower-cased) matching this regular expression are complaints:
#: one definition for the churn reasons, loyalty, the account directory and prospects.
COMPLAINT_PATTERN = "complaint|投诉|抱怨|客诉"


@dataclass(frozen=True)
class Params:
    """Definition parameters of SPEC §2 (all user-adjustable)."""

    lost_after_days: int = 180
    loyal_orders: int = 4
    loyal_window_days: int = 365

    def __post_init__(self) -> None:
        from crmflow.errors import CrmflowError

        for name, value in asdict(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise CrmflowError(
                    f"{name} must be a whole number of at least 1 (got {value!r})",
                    f"Pass a positive integer, e.g. --{name.replace('_', '-')} {getattr(Params, name)}",
                )

    def as_sql_params(self) -> dict[str, int]:
        return asdict(self)


def database_path(explicit: str | os.PathLike | None = None) -> Path:
    """The store's file, absolute (a child process that writes it must find the
    same file): the explicit path, else $CRMFLOW_DB, else data/crmflow.duckdb."""
    if explicit:
        return Path(os.path.abspath(Path(explicit).expanduser()))
    env = os.environ.get(DB_ENV_VAR)
    if env:
        return Path(os.path.abspath(Path(env).expanduser()))
    return DEFAULT_DB_PATH

#: One colour per stage, used by every chart.
STAGE_COLORS = {
    "none": "#cbd5e1",
    "potential": "#94a3b8",
    "first": "#60a5fa",
    "repeat": "#2563eb",
    "loyal": "#16a34a",
    "lost": "#dc2626",
}
