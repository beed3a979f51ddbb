"""The registry's rules on small known cases (alertrec.stages.normalize.registry)."""

from __future__ import annotations

import pandas as pd
import pytest

from alertrec import schema as S
from alertrec.errors import RegistryError
from alertrec.stages.normalize.canonical import query_item_id
from alertrec.stages.normalize.registry import (
    QueryRegistry,
    assign_query_ids,
    merge_registry,
    new_registry_entries,
)

# three forms of one account: A and B are linked (ratio >= 95), C is not; A sorts first
B = "select count(*) from requests where service = <STR> and status >= <NUM> group by route"
A = B.replace("route", "routa")
C = "level:error AND env:<STR>"


def _pairs(*forms, account=1):
    return pd.DataFrame({S.ACCOUNT_ID: [account] * len(forms), S.CANONICAL: list(forms)})


def _registry(ids: dict[str, str], account=1, day="2026-01-30"):
    return pd.DataFrame(
        {
            S.ACCOUNT_ID: [account] * len(ids),
            S.CANONICAL: list(ids),
            S.ITEM_ID: list(ids.values()),
            "first_seen": [day] * len(ids),
        }
    )


def test_without_a_registry_the_first_form_of_the_window_names_the_pair():
    assert A < B
    ids = assign_query_ids(_pairs(A, B, C), None, 95.0)
    assert ids[(1, A)] == ids[(1, B)] == query_item_id(A) and ids[(1, C)] == query_item_id(C)


def test_a_registered_form_keeps_its_id_when_a_new_near_duplicate_sorts_first():
    # day D-1 saw only B: B got its own id. Day D sees A and B: A takes B's id, never the other way round
    registry = _registry({B: query_item_id(B)})
    ids = assign_query_ids(_pairs(A, B), registry, 95.0)
    assert ids[(1, A)] == ids[(1, B)] == query_item_id(B)


def test_new_forms_linked_only_among_themselves_share_the_first_ones_id():
    ids = assign_query_ids(_pairs(A, B, C), _registry({C: "q_00000000000000cc"}), 95.0)
    assert ids[(1, C)] == "q_00000000000000cc" and ids[(1, A)] == ids[(1, B)] == query_item_id(A)


def test_accounts_do_not_share_links():
    ids = assign_query_ids(
        pd.concat([_pairs(A), _pairs(B, account=2)]), _registry({B: "q_00000000000000bb"}, account=2), 95.0
    )
    assert ids[(1, A)] == query_item_id(A) and ids[(2, B)] == "q_00000000000000bb"


def test_new_entries_and_append_only_merge():
    items = pd.DataFrame(
        {
            S.ACCOUNT_ID: [1, 1, 1],
            S.ITEM_TYPE: [S.ITEM_QUERY] * 3,
            S.CANONICAL: [A, B, C],
            S.ITEM_ID: [query_item_id(B), query_item_id(B), query_item_id(C)],
        }
    )
    registry = _registry({B: query_item_id(B)})
    new = new_registry_entries(items, registry, "2026-02-01")
    assert sorted(new[S.CANONICAL]) == sorted([A, C]) and set(new["first_seen"]) == {"2026-02-01"}
    merged = merge_registry(registry, new)
    assert len(merged) == 3
    with pytest.raises(RegistryError):
        merge_registry(merged, _registry({B: "q_0000000000000bad"}, day="2026-02-02"))


def test_lookup_gives_the_published_id_of_a_text():
    from alertrec.stages.normalize import canonical_query

    form = canonical_query("level:error AND env:prod", "lucene")
    registry = QueryRegistry(_registry({form: "q_00000000000000ab"}), link_threshold=95.0)
    assert registry.lookup("env:prod AND level:error", "lucene", 1) == "q_00000000000000ab"  # same form
    assert registry.lookup("env:prod AND level:error", "lucene", 2) == query_item_id(form)  # another account
    assert registry.lookup("service:x", "lucene", 1) == query_item_id(canonical_query("service:x", "lucene"))
