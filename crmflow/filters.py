"""Global filters of every view (SPEC §3): region, owner, channel, segment.

A filter narrows the dataset *before* any definition is applied, the way a
manager reads "the North region" or "the online business":

* region / owner: keep the customers whose region / owner (customers table,
  else their most recent transaction line that has one) is selected; their
  transactions and interactions come with them.
* channel: keep only the transaction lines of the selected channels, and the
  customers who bought through one of them (a lead that never bought has no
  channel, so it is not part of any channel's view).
* segment: keep the customers in the selected RFM segments, scored as of D on
  the dataset narrowed by the other filters.

Filters resolve to a :class:`crmflow.db.Scope`, which every analytics
function accepts in place of a dataset id; the staging views apply it, so no
query knows about filters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pandas as pd

from crmflow.db import Database, Scope

FILTER_FIELDS = ("region", "owner", "channel", "segment")


@dataclass(frozen=True)
class Filters:
    """The user's selections; an empty tuple means "all"."""

    regions: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    #: The one owner a signed-in manager is tied to (crmflow.auth): every other
    #: filter narrows within that owner's customers; None for everyone else.
    scope_owner: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.regions or self.owners or self.channels or self.segments
                    or self.scope_owner is not None)


def _is_list(value: object) -> bool:
    return hasattr(value, "__len__") and not isinstance(value, str)


def customer_attributes(db: Database, dataset_id: int) -> pd.DataFrame:
    """customer_id, region, owner, channels (list) of every known customer."""
    return db.run("customer_attributes", dataset_id=dataset_id)


def filter_options(attributes: pd.DataFrame) -> dict[str, list[str]]:
    """The values each filter can take in this dataset, sorted."""
    channels = sorted({c for cs in attributes["channels"] if _is_list(cs) for c in cs})
    return {
        "region": sorted(attributes["region"].dropna().unique().tolist()),
        "owner": sorted(attributes["owner"].dropna().unique().tolist()),
        "channel": channels,
    }


def selected_customers(attributes: pd.DataFrame, filters: Filters) -> pd.Series | None:
    """The customers kept by the region, owner and channel filters and the
    signed-in manager's own owner (None: all)."""
    keep = pd.Series(True, index=attributes.index)
    if filters.scope_owner is not None:
        keep &= attributes["owner"] == filters.scope_owner
    if filters.regions:
        keep &= attributes["region"].isin(filters.regions)
    if filters.owners:
        keep &= attributes["owner"].isin(filters.owners)
    if filters.channels:
        wanted = set(filters.channels)
        keep &= attributes["channels"].map(lambda cs: _is_list(cs) and bool(wanted.intersection(cs)))
    if not (filters.regions or filters.owners or filters.channels or filters.scope_owner is not None):
        return None
    return attributes.loc[keep, "customer_id"]


def resolve(db: Database, dataset_id: int, filters: Filters, as_of: date | None = None,
            attributes: pd.DataFrame | None = None,
            rfm: Callable[[Scope, date], pd.DataFrame] | None = None) -> int | Scope:
    """The scope the filters select: the plain dataset id when no filter is set.

    Region and owner select customers from ``attributes`` (default: read from
    the database), within ``filters.scope_owner``'s customers when set (a
    manager sees nothing else); channels narrow the lines; a segment filter keeps the
    customers of those RFM segments, scored within the region/owner/channel
    scope at ``as_of`` (default: the last order date) by ``rfm`` (default
    :func:`crmflow.analytics.rfm`; the dashboard passes its cached copy). The
    command line and the dashboard both resolve their filters here."""
    if not filters.active:
        return dataset_id
    if attributes is None:
        attributes = customer_attributes(db, dataset_id)
    customers = selected_customers(attributes, filters)
    channels = tuple(filters.channels) or None
    scope = Scope(dataset_id, db.store_customer_set(customers) if customers is not None else None, channels)
    if filters.segments:
        from crmflow import analytics
        from crmflow.stages import resolve_as_of

        d = as_of if as_of is not None else resolve_as_of(db, scope)
        scores = rfm(scope, d) if rfm is not None else analytics.rfm(db, scope, d)
        in_segment = scores.loc[scores["segment"].isin(filters.segments), "customer_id"]
        scope = Scope(dataset_id, db.store_customer_set(in_segment), channels)
    return scope
