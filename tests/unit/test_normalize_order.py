"""Canonical forms that do not depend on the order of AND/OR-joined conditions, in every language.

Also: ids of forms that the order rules do not touch stay as they were before
(hand-copied from the single-module canonicalizer), and the canonicalizer
never raises on truncated or random input (hypothesis and a seeded fuzzer).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertrec.stages.normalize import canonical_query, query_item_id

# (language, one order, another order of the same conditions)
SAME_QUERY = [
    # SQL: JOIN ... ON (the case of issue 10), several joins, comma joins
    ("sql", "SELECT * FROM a JOIN t ON b.y=a.y AND b.x=a.x", "SELECT * FROM a JOIN t ON b.x=a.x AND b.y=a.y"),
    (
        "sql",
        "SELECT * FROM a LEFT JOIN b ON b.y=a.y AND b.x=a.x JOIN c ON c.z = b.z OR c.w = 1 WHERE q = 1 AND p = 2",
        "SELECT * FROM a LEFT JOIN b ON b.x=a.x AND b.y=a.y JOIN c ON c.w = 1 OR c.z = b.z WHERE p = 2 AND q = 1",
    ),
    (
        "sql",
        "SELECT * FROM a JOIN b ON b.y=a.y AND b.x=a.x, c WHERE 1=1",
        "SELECT * FROM a JOIN b ON b.x=a.x AND b.y=a.y, c WHERE 1=1",
    ),
    ("sql", "SELECT * FROM a JOIN b ON (b.y=a.y AND b.x=a.x)", "SELECT * FROM a JOIN b ON (b.x=a.x AND b.y=a.y)"),
    (
        "sql",
        "SELECT * FROM a JOIN (SELECT * FROM c WHERE b=1 AND a=2) d ON d.k=a.k AND d.j=a.j",
        "SELECT * FROM a JOIN (SELECT * FROM c WHERE a=2 AND b=1) d ON d.j=a.j AND d.k=a.k",
    ),
    # HAVING, QUALIFY, CASE WHEN
    (
        "sql",
        "SELECT k FROM t GROUP BY k HAVING count(*) > 5 AND max(v) < 3 ORDER BY k",
        "SELECT k FROM t GROUP BY k HAVING max(v) < 3 AND count(*) > 5 ORDER BY k",
    ),
    (
        "sql",
        "SELECT k FROM t QUALIFY row_number() OVER (PARTITION BY k ORDER BY ts) = 1 AND k > 0",
        "SELECT k FROM t QUALIFY k > 0 AND row_number() OVER (PARTITION BY k ORDER BY ts) = 1",
    ),
    ("sql", "SELECT CASE WHEN b = 1 AND a = 2 THEN 1 END FROM t", "SELECT CASE WHEN a = 2 AND b = 1 THEN 1 END FROM t"),
    # WHERE, nested groups, every WHERE of a UNION, subqueries
    (
        "sql",
        "SELECT * FROM t WHERE (b = 1 AND a = 2) OR (d = 3 AND (f = 1 OR e = 2))",
        "SELECT * FROM t WHERE ((e = 2 OR f = 1) AND d = 3) OR (a = 2 AND b = 1)",
    ),
    (
        "sql",
        "SELECT 1 FROM t WHERE b=1 AND a=2 UNION SELECT 1 FROM u WHERE d=1 AND c=2",
        "SELECT 1 FROM t WHERE a=2 AND b=1 UNION SELECT 1 FROM u WHERE c=2 AND d=1",
    ),
    (
        "sql",
        "SELECT * FROM t WHERE x IN (SELECT y FROM u WHERE b=1 AND a=2) AND z=1",
        "SELECT * FROM t WHERE z=1 AND x IN (SELECT y FROM u WHERE a=2 AND b=1)",
    ),
    ("sql", "SELECT * FROM t WHERE b = 1 AND a BETWEEN 1 AND 5", "SELECT * FROM t WHERE a BETWEEN 1 AND 5 AND b = 1"),
    ("sql", "SELECT * FROM t WHERE NOT (b = 1 AND a = 2)", "SELECT * FROM t WHERE NOT (a = 2 AND b = 1)"),
    # DQL pipelines: filter / filterOut conditions, nested groups, subqueries in [ ]
    (
        "dql",
        'fetch logs | filter b == "x" and (d == 1 or c == 2) | limit 10',
        'fetch logs | filter (c == 2 or d == 1) and b == "x" | limit 10',
    ),
    (
        "dql",
        "fetch logs | filter a == 1 | filterOut b == 2 or a == 3",
        "fetch logs | filter a == 1 | filterOut a == 3 or b == 2",
    ),
    (
        "dql",
        "fetch logs | filter (b == 1 and (d == 2 or c == 3)) or e == 4",
        "fetch logs | filter e == 4 or ((c == 3 or d == 2) and b == 1)",
    ),
    ("dql", "fetch logs | filter not (b == 1 and a == 2)", "fetch logs | filter not (a == 2 and b == 1)"),
    (
        "dql",
        "fetch logs | lookup [fetch x | filter b == 1 and a == 2], sourceField:k, lookupField:k",
        "fetch logs | lookup [fetch x | filter a == 2 and b == 1], sourceField:k, lookupField:k",
    ),
    # KQL-style DQL (the Lucene rules)
    ("dql", "service:api and (level:warn or level:error)", "(level:error or level:warn) and service:api"),
    # Lucene: groups, field groups, negations, && / ||
    ("lucene", "(b:1 AND a:2) OR (d:3 AND (f:x OR e:y))", "((e:y OR f:x) AND d:3) OR (a:2 AND b:1)"),
    ("lucene", "service:(b OR a) AND NOT (y:1 AND x:2)", "NOT (x:2 AND y:1) AND service:(a OR b)"),
    ("lucene", "a:x || (c:z && b:y)", "(b:y && c:z) || a:x"),
    ("lucene", "level:error -service:b -service:a", "-service:a level:error -service:b"),
]


@pytest.mark.parametrize(("language", "one", "other"), SAME_QUERY)
def test_clause_orders_give_one_canonical_form_and_one_id(language, one, other):
    assert canonical_query(one, language) == canonical_query(other, language)
    assert query_item_id(canonical_query(one, language)) == query_item_id(canonical_query(other, language))


def test_the_join_of_issue_10_reads_sorted():
    got = canonical_query("SELECT * FROM a JOIN t ON b.y=a.y AND b.x=a.x WHERE a.k = 5", "sql")
    assert got == "SELECT * FROM a JOIN t ON b.x = a.x AND b.y = a.y WHERE a.k = <NUM>"


@pytest.mark.parametrize(
    ("language", "one", "other"),
    [
        # order matters in these: they must stay two queries
        ("sql", "SELECT a, b FROM t", "SELECT b, a FROM t"),
        ("sql", "SELECT * FROM t ORDER BY a, b", "SELECT * FROM t ORDER BY b, a"),
        ("sql", "SELECT * FROM a JOIN b ON a.x = b.x WHERE c = 1", "SELECT * FROM a JOIN b ON c = 1 WHERE a.x = b.x"),
        ("sql", "SELECT * FROM t WHERE a = 1 AND b = 2 OR c = 3", "SELECT * FROM t WHERE a = 1 AND (b = 2 OR c = 3)"),
        ("dql", "fetch logs | filter a == 1 | limit 5", "fetch logs | limit 5 | filter a == 1"),
        ("lucene", "a:x AND b:y OR c:z", "a:x AND (b:y OR c:z)"),
    ],
)
def test_orders_that_matter_are_kept(language, one, other):
    assert canonical_query(one, language) != canonical_query(other, language)


@pytest.mark.parametrize(
    ("text", "language", "item_id"),
    [
        # ids computed by the single-module canonicalizer before the order rules: they must not change
        ("level:warn", "lucene", "q_eb7c7d0358fe27e9"),
        ("service:api AND status:500", "lucene", "q_8b3064221667ffb7"),
        (
            "SELECT * FROM orders o JOIN users u ON u.id = o.user_id WHERE o.status = 'failed' AND o.total > 100;",
            "sql",
            "q_311d95615482a59f",
        ),
        (
            "SELECT service, count(*) FROM logs WHERE level = 'ERROR' GROUP BY service HAVING count(*) > 10 "
            "ORDER BY 2 DESC LIMIT 5",
            "sql",
            "q_492ac6f368f147cb",
        ),
        (
            "SELECT CASE WHEN status >= 500 THEN 'err' ELSE 'ok' END AS k FROM requests, hosts WHERE ts > '2024-05-01'",
            "sql",
            "q_f42360296efb2b73",
        ),
        (
            'fetch logs | filter loglevel == "ERROR" and k8s.namespace.name == "checkout" '
            "| sort timestamp desc | limit 100",
            "dql",
            "q_605315cc0c328016",
        ),
        (
            'service:checkout AND (level:error OR level:warn) AND NOT message:"health check"',
            "lucene",
            "q_ef1a3acc53f35dd3",
        ),
        ("service:api and level:error", "dql", "q_ba708823fc721fc2"),
    ],
)
def test_ids_of_forms_the_order_rules_do_not_touch_stay_as_before(text, language, item_id):
    assert query_item_id(canonical_query(text, language)) == item_id


@pytest.mark.parametrize(("language", "one", "other"), SAME_QUERY)
def test_a_canonical_form_is_its_own_canonical_form(language, one, other):
    canonical = canonical_query(one, language)
    assert canonical_query(canonical, language) == canonical


# --------------------------------------------------------------------------
# never raises: truncations, random bytes, random token soup
# --------------------------------------------------------------------------
LANGUAGES = ["lucene", "dql", "sql", None]


def _never_raises(text: str, language: str | None) -> None:
    got = canonical_query(text, language)
    assert isinstance(got, str)
    assert query_item_id(got).startswith("q_")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("_", "one", "other"), SAME_QUERY[::3])
def test_every_truncation_gives_a_string(language, _, one, other, caplog):
    for text in (one, other):
        for cut in range(len(text) + 1):
            _never_raises(text[:cut], language)
            _never_raises(text[cut:], language)
    assert "could not canonicalize" not in caplog.text  # the safety net was not needed


_ALPHABET = [
    *" \t\n()[]{}\"'`\\:;,.|&!+-*/%<>=?^~@#$",
    "AND",
    "OR",
    "NOT",
    "TO",
    "SELECT",
    "FROM",
    "WHERE",
    "JOIN",
    "ON",
    "HAVING",
    "GROUP BY",
    "CASE",
    "WHEN",
    "THEN",
    "END",
    "BETWEEN",
    "IN",
    "fetch",
    "filter",
    "|",
    "a",
    "b.x",
    "5",
    "0x1f",
    "2024-05-01T10:00:00Z",
    "10.0.3.17",
    "<NUM>",
    "<ID",
    "é",
    "\x00",
    "\ud800",
]


def test_a_seeded_fuzzer_over_token_soup_and_random_bytes(caplog):
    rng = random.Random(20260110)
    for _ in range(3000):
        language = rng.choice(LANGUAGES)
        if rng.random() < 0.5:
            text = "".join(rng.choice(_ALPHABET) + rng.choice(("", " ")) for _ in range(rng.randint(0, 40)))
        else:
            text = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 80))).decode("utf-8", "replace")
        _never_raises(text, language)
    assert "could not canonicalize" not in caplog.text


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(tokens=st.lists(st.sampled_from(_ALPHABET), max_size=60), language=st.sampled_from(LANGUAGES))
def test_property_token_soup_never_raises_and_is_stable(tokens, language):
    text = " ".join(tokens)
    got = canonical_query(text, language)
    assert isinstance(got, str)
    assert canonical_query(text, language) == got  # deterministic (the caches change nothing)


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.binary(max_size=200), language=st.sampled_from(LANGUAGES))
def test_property_random_bytes_never_raise(data, language, caplog):
    _never_raises(data.decode("utf-8", "surrogateescape"), language)
    _never_raises(data.decode("latin-1"), language)
    assert "could not canonicalize" not in caplog.text
