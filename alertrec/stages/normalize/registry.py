"""The query registry: an append-only map from canonical form to ``item_id``, so that ids hold across days.

Contract rule implemented (``docs/contract.md``, Output): *item_id is a stable
id of the canonical query (the same query gets the same id every day)*.

Without a registry, linked near-duplicate forms share the id of the form that
sorts first among the forms present in the window, so a form that appears or
ages out renames the others. With one:

* a canonical form already in the registry keeps its id forever;
* a new form that links (rapidfuzz ``ratio`` >= the threshold, same account,
  :func:`~alertrec.stages.normalize.linking.matches`) to registered forms
  gets the id of the registered form that sorts first among its matches;
* new forms that link only among themselves share one id: the id of the
  registered form that sorts first among the matches of any of them, else the
  ``q_`` + sha1 id of the new form that sorts first (as without a registry);
* any other new form gets ``q_`` + sha1 of itself.

So running D-1, D, then D-3 gives every form present in two runs one id. This
module is pure (frames in, frames out); reading and writing the registry's
files is :mod:`alertrec.io.registry`.

The registry frame
------------------
=========== ======= =====================================================
account_id  int64   the account
canonical   str     a canonical form (:func:`canonical_query`)
item_id     str     its id, forever
first_seen  str     ``YYYY-MM-DD``: the day of the run that registered it
=========== ======= =====================================================

One row per (account_id, canonical), sorted by them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from alertrec import schema as S
from alertrec.errors import RegistryError
from alertrec.stages.normalize.canonical import canonical_query, query_item_id
from alertrec.stages.normalize.linking import linked_components, matches

log = logging.getLogger(__name__)

__all__ = [
    "FIRST_SEEN",
    "REGISTRY_COLUMNS",
    "QueryRegistry",
    "assign_query_ids",
    "empty_registry",
    "append_entries",
    "merge_registry",
    "new_registry_entries",
    "validate_registry",
]

FIRST_SEEN = S.FIRST_SEEN
REGISTRY_COLUMNS = S.REGISTRY_COLUMNS
_DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ID_RE = re.compile(r"q_[0-9a-f]{16}")


def empty_registry() -> pd.DataFrame:
    """A registry with no forms (the columns and dtypes of :data:`REGISTRY_COLUMNS`)."""
    return pd.DataFrame(
        {
            S.ACCOUNT_ID: pd.Series([], dtype="int64"),
            S.CANONICAL: pd.Series([], dtype=object),
            S.ITEM_ID: pd.Series([], dtype=object),
            FIRST_SEEN: pd.Series([], dtype=object),
        }
    )


def validate_registry(frame: pd.DataFrame) -> pd.DataFrame:
    """Check a registry frame and return it with the contract's dtypes, sorted.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``account_id, canonical, item_id, first_seen`` (other columns are dropped).

    Returns
    -------
    pandas.DataFrame
        A new frame, one row per (account_id, canonical), sorted by them.

    Raises
    ------
    RegistryError
        A column is missing or null, an id or a day is malformed, or a form
        appears twice.
    """
    missing = [c for c in REGISTRY_COLUMNS if c not in frame.columns]
    if missing:
        raise RegistryError(f"the query registry lacks the columns {missing}")
    out = frame.loc[:, list(REGISTRY_COLUMNS)].copy()
    if out.isna().any().any():
        raise RegistryError("the query registry holds nulls")
    try:
        out[S.ACCOUNT_ID] = out[S.ACCOUNT_ID].astype("int64")
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"the query registry's account_id is not an integer column: {exc}") from None
    for column in (S.CANONICAL, S.ITEM_ID, FIRST_SEEN):
        values = out[column].to_numpy(dtype=object)
        if not all(isinstance(v, str) for v in values):
            raise RegistryError(f"the query registry's {column} holds non-strings")
        out[column] = pd.Series(values, index=out.index, dtype=object)
    bad_id = next((v for v in out[S.ITEM_ID] if not _ID_RE.fullmatch(v)), None)
    if bad_id is not None:
        raise RegistryError(f"the query registry holds a malformed item_id {bad_id!r}")
    bad_day = next((v for v in out[FIRST_SEEN] if not _DAY_RE.fullmatch(v)), None)
    if bad_day is not None:
        raise RegistryError(f"the query registry holds a malformed first_seen {bad_day!r}")
    if out.duplicated([S.ACCOUNT_ID, S.CANONICAL]).any():
        raise RegistryError("the query registry holds a canonical form twice for one account")
    return out.sort_values([S.ACCOUNT_ID, S.CANONICAL], kind="mergesort").reset_index(drop=True)


def _as_frame(registry: pd.DataFrame | QueryRegistry | None) -> pd.DataFrame:
    if registry is None:
        return empty_registry()
    if isinstance(registry, QueryRegistry):
        return registry.frame
    return registry


def assign_query_ids(
    pairs: pd.DataFrame,
    registry: pd.DataFrame | QueryRegistry | None,
    link_threshold: float | None,
) -> dict[tuple[int, str], str]:
    """The ``item_id`` of every (account_id, canonical) pair, by the registry's rules (module docstring).

    Parameters
    ----------
    pairs : pandas.DataFrame
        ``account_id, canonical``: the forms of a run (duplicates allowed).
    registry : pandas.DataFrame or QueryRegistry or None
        The registry as read at the start of the run; ``None`` or empty: the
        rules without a registry (:func:`link_near_duplicates`).
    link_threshold : float or None
        Minimum rapidfuzz ``ratio`` for two forms to be linked; ``None``: no
        linking (a new form gets its own sha1 id).

    Returns
    -------
    dict
        ``(account_id, canonical) -> item_id`` for every pair.
    """
    reg = _as_frame(registry)
    known: dict[tuple[int, str], str] = dict(
        zip(zip(reg[S.ACCOUNT_ID].astype("int64").tolist(), reg[S.CANONICAL].tolist()), reg[S.ITEM_ID].tolist())
    )
    registered_by_account: dict[int, list[str]] = {}
    if link_threshold is not None and len(reg):
        for account_id, forms in reg.groupby(S.ACCOUNT_ID, sort=False)[S.CANONICAL]:
            registered_by_account[int(account_id)] = sorted(forms)
    out: dict[tuple[int, str], str] = {}
    n_linked = 0
    for account_id, group in pairs.groupby(S.ACCOUNT_ID, sort=True):
        acc = int(account_id)
        forms = sorted(set(group[S.CANONICAL]))
        new = []
        for form in forms:
            item_id = known.get((acc, form))
            if item_id is None:
                new.append(form)
            else:
                out[(acc, form)] = item_id
        if not new:
            continue
        if link_threshold is None:
            for form in new:
                out[(acc, form)] = query_item_id(form)
            continue
        # a new form linked to registered forms takes the id of the first of them
        registered = registered_by_account.get(acc, [])
        direct: dict[str, str] = {}
        if registered:
            scores = matches(new, registered, link_threshold)
            for i, form in enumerate(new):
                hits = np.flatnonzero(scores[i])
                if hits.size:
                    direct[form] = registered[int(hits[0])]  # registered is sorted: the first match
        # new forms linked among themselves share one id
        component_id: dict[str, str] = {}
        for component in linked_components(new, link_threshold):
            matched = sorted(direct[form] for form in component if form in direct)
            shared = known[(acc, matched[0])] if matched else query_item_id(component[0])
            for form in component:
                component_id[form] = shared
        for form in new:
            if form in direct:
                out[(acc, form)] = known[(acc, direct[form])]
                n_linked += 1
            elif form in component_id:
                out[(acc, form)] = component_id[form]
                n_linked += component_id[form] != query_item_id(form)
            else:
                out[(acc, form)] = query_item_id(form)
    if n_linked:
        log.info("normalize: %d new canonical queries linked to a near-duplicate's id", n_linked)
    return out


def new_registry_entries(
    normalized_items: pd.DataFrame, registry: pd.DataFrame | QueryRegistry | None, day: str
) -> pd.DataFrame:
    """The forms of a run that the registry does not hold yet, with the id the run gave them.

    Parameters
    ----------
    normalized_items : pandas.DataFrame
        The output of :func:`normalize_items` (uses ``account_id``,
        ``item_type``, ``canonical``, ``item_id``). Not modified.
    registry : pandas.DataFrame or QueryRegistry or None
        The registry the run read (``None``: none).
    day : str
        The run's day ``YYYY-MM-DD``: the entries' ``first_seen``.

    Returns
    -------
    pandas.DataFrame
        ``account_id, canonical, item_id, first_seen``, sorted, one row per
        new (account_id, canonical).

    Raises
    ------
    ValueError
        ``day`` is not ``YYYY-MM-DD``.
    """
    if not isinstance(day, str) or not _DAY_RE.fullmatch(day):
        raise ValueError(f"day must be YYYY-MM-DD, got {day!r}")
    items = normalized_items
    is_query = (items[S.ITEM_TYPE] == S.ITEM_QUERY) & items[S.CANONICAL].notna() & items[S.ITEM_ID].notna()
    got = items.loc[is_query, [S.ACCOUNT_ID, S.CANONICAL, S.ITEM_ID]].drop_duplicates([S.ACCOUNT_ID, S.CANONICAL])
    got = got.astype({S.ACCOUNT_ID: "int64"})
    reg = _as_frame(registry)
    if len(reg):
        seen = pd.MultiIndex.from_frame(reg[[S.ACCOUNT_ID, S.CANONICAL]].astype({S.ACCOUNT_ID: "int64"}))
        got = got[~pd.MultiIndex.from_frame(got[[S.ACCOUNT_ID, S.CANONICAL]]).isin(seen)]
    out = got.assign(**{FIRST_SEEN: day})
    if out.empty:
        return empty_registry()
    return validate_registry(out)


def merge_registry(registry: pd.DataFrame | QueryRegistry | None, new_entries: pd.DataFrame) -> pd.DataFrame:
    """The registry with ``new_entries`` appended (append-only: no form changes its id or its first day).

    Parameters
    ----------
    registry : pandas.DataFrame or QueryRegistry or None
        The current registry (``None``: empty).
    new_entries : pandas.DataFrame
        From :func:`new_registry_entries`; forms already registered with the
        same id are ignored.

    Returns
    -------
    pandas.DataFrame
        A new, validated, sorted registry frame.

    Raises
    ------
    RegistryError
        A form already registered would change its id.
    """
    reg = validate_registry(_as_frame(registry))
    new = validate_registry(new_entries) if len(new_entries) else empty_registry()
    both = new.merge(reg, on=[S.ACCOUNT_ID, S.CANONICAL], how="inner", suffixes=("", "_registered"))
    changed = both[both[S.ITEM_ID] != both[S.ITEM_ID + "_registered"]]
    if len(changed):
        row = changed.iloc[0]
        raise RegistryError(
            f"the query registry is append-only: {len(changed)} registered form(s) would change id, e.g. account "
            f"{int(row[S.ACCOUNT_ID])} {row[S.CANONICAL][:80]!r}: {row[S.ITEM_ID + '_registered']} -> {row[S.ITEM_ID]}"
        )
    fresh = (
        new[
            ~pd.MultiIndex.from_frame(new[[S.ACCOUNT_ID, S.CANONICAL]]).isin(
                pd.MultiIndex.from_frame(reg[[S.ACCOUNT_ID, S.CANONICAL]])
            )
        ]
        if len(reg) and len(new)
        else new
    )
    merged = pd.concat([reg, fresh], ignore_index=True) if len(fresh) else reg
    return validate_registry(merged)


def append_entries(
    current: pd.DataFrame | None, new_entries: pd.DataFrame
) -> tuple[pd.DataFrame | None, dict[str, int]]:
    """The next registry version: ``current`` plus the forms of ``new_entries`` it lacks.

    Run under the registry's lock on the newest version (which another run, of another day,
    may have written since this run read it): a form that run registered meanwhile keeps
    the id it registered, and is counted.

    Parameters
    ----------
    current : pandas.DataFrame or None
        The newest registry (None: there is none yet).
    new_entries : pandas.DataFrame
        This run's new forms (:func:`new_registry_entries`).

    Returns
    -------
    (pandas.DataFrame or None, dict)
        The registry to write (None when nothing changes), and ``forms_added``,
        ``taken_by_another_run``, ``forms_total``.
    """
    base = validate_registry(current) if current is not None else empty_registry()
    new = validate_registry(new_entries) if len(new_entries) else empty_registry()
    taken = 0
    if len(base) and len(new):
        both = new.merge(base, on=[S.ACCOUNT_ID, S.CANONICAL], how="left", suffixes=("", "_registered"), indicator=True)
        taken = int(((both["_merge"] == "both") & (both[S.ITEM_ID] != both[S.ITEM_ID + "_registered"])).sum())
        new = new[(both["_merge"] == "left_only").to_numpy()].reset_index(drop=True)
    info = {"forms_added": int(len(new)), "taken_by_another_run": taken}
    if not len(new) and current is not None:
        return None, {**info, "forms_total": int(len(base))}
    merged = merge_registry(base, new)
    return merged, {**info, "forms_total": int(len(merged))}


class QueryRegistry:
    """A registry frame with a lookup by query text, for notebooks and the serving side.

    Parameters
    ----------
    frame : pandas.DataFrame
        A registry frame (validated on construction; not modified).
    link_threshold : float, optional
        The run's ``query_link_threshold``: a form that is not registered
        takes the id of its first registered near-duplicate, as in a run.

    Attributes
    ----------
    frame : pandas.DataFrame
        The validated registry.
    """

    def __init__(self, frame: pd.DataFrame | None = None, link_threshold: float | None = None) -> None:
        self.frame = validate_registry(frame if frame is not None else empty_registry())
        self.link_threshold = link_threshold
        self._ids: Mapping[tuple[int, str], str] = dict(
            zip(
                zip(self.frame[S.ACCOUNT_ID].tolist(), self.frame[S.CANONICAL].tolist()), self.frame[S.ITEM_ID].tolist()
            )
        )

    def __len__(self) -> int:
        return len(self.frame)

    def lookup(self, text: str, language: str | None, account_id: int) -> str:
        """The id a query text of an account is published under.

        The registered id of its canonical form; else (when the registry has
        a ``link_threshold``) the id of its first registered near-duplicate;
        else ``q_`` + sha1 of its canonical form (:func:`alertrec.query_item_id`).

        Parameters
        ----------
        text : str
            A raw query text.
        language : str or None
            ``lucene``, ``dql`` or ``sql`` (``None`` guesses).
        account_id : int
            The account.

        Returns
        -------
        str
            The id; never raises on any text.
        """
        canonical = canonical_query(text, language)
        got = self._ids.get((int(account_id), canonical))
        if got is not None:
            return got
        pairs = pd.DataFrame({S.ACCOUNT_ID: [int(account_id)], S.CANONICAL: [canonical]})
        return assign_query_ids(pairs, self, self.link_threshold)[(int(account_id), canonical)]
