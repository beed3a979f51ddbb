"""Regenerate ``canonical_golden.jsonl.gz``: a deterministic corpus of query texts and their canonical forms.

Usage, from the repository's root::

    PYTHONPATH=$PWD .venv/bin/python tests/unit/data/make_canonical_golden.py

The corpus (seeded, the same texts every time) holds the shapes of
``bench/bench_canonical.py`` and the pathological shapes of
``tests/unit/test_normalize.py`` at several sizes, every string written in the
normalize tests and in the package docstrings, the query texts of
``data/fixtures``, generated realistic Lucene/KQL, DQL and SQL queries with
every kind of literal, seeded truncations and mutations of all of these,
token soup, random bytes and unicode, unbalanced quotes and brackets, the
empty text, and the canonical forms themselves. Each line is the JSON list
``[language, text, canonical]`` (``language`` may be ``null`` or an unknown
value: the dispatch is part of what is recorded). A string that JSON would not
give back unchanged (two lone surrogates in a row read back as one astral
character) is written as ``{"utf8sp": <hex of its UTF-8 surrogatepass bytes>}``.

The file records what :func:`alertrec.stages.normalize.canonical_query`
returned when it was written: ``tests/unit/test_canonical_golden.py`` asserts
that the code still returns exactly that. Regenerate it only when a change of
canonical form is intended (item ids change with it).
"""

from __future__ import annotations

import ast
import gzip
import io
import json
import logging
import random
import sys
from pathlib import Path

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[3]
OUT = Path(__file__).resolve().parent / "canonical_golden.jsonl.gz"
SEED = 20261204
LANGUAGES = ["lucene", "dql", "sql"]
ALL_LANGUAGES = ["lucene", "dql", "sql", None, "kql"]
SIZES = [0, 1, 2, 3, 5, 8, 13, 21, 50, 100, 255, 256, 257, 333, 1024, 2048, 4096, 10240]

# --------------------------------------------------------------------------
# realistic queries
# --------------------------------------------------------------------------
_FIELDS = [
    "service", "level", "host", "host.name", "host.hostname", "agent.host", "kubernetes.pod.name", "pod",
    "kubernetes.node.name", "trace.id", "request.id", "user.id", "message_id", "version", "commit", "build",
    "client.ip", "server.ip", "source.ip", "status", "http.response.status_code", "http.route", "message",
    "error.type", "duration", "bytes", "@timestamp", "event.created", "env", "cloud.region", "service.name",
    "log.file.path", "k8s.namespace.name", "loglevel", "a", "b.x", "Field_1", "`weird field`", '"quoted"',
]
_WORDS = ["error", "warn", "info", "debug", "checkout", "cart", "payments", "api", "svc12", "prod2", "web01",
          "db-3", "redis-master-2", "us-east-1", "checkout-v2", "utf-8", "sha256", "timeout", "exceeded",
          "OOMKilled", "NullPointerException", "localhost", "GC", "pause", "to", "and", "or", "not", "TO",
          "Select", "fetch", "filter", "x", "é", "漢字", "now", "null", "true"]


def _literal(rng: random.Random) -> str:
    """A value of one of the literal kinds the classifier knows (or a near miss)."""
    kind = rng.randrange(24)
    h = lambda n: "".join(rng.choice("0123456789abcdef") for _ in range(n))  # noqa: E731
    k8s = lambda n: "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))  # noqa: E731
    if kind == 0:
        return f"{h(8)}-{h(4)}-{h(4)}-{h(4)}-{h(12)}"
    if kind == 1:
        return f"2024-0{rng.randint(1, 9)}-{rng.randint(10, 28)}T{rng.randint(10, 23)}:00:00.{rng.randint(1, 999)}Z"
    if kind == 2:
        return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    if kind == 3:
        return str(rng.choice([1714557600000, 1714557600000123, 1714557600000123456, 171455760000]))
    if kind == 4:
        return ".".join(str(rng.randint(0, 300)) for _ in range(4)) + rng.choice(["", "/24", ":5432", ":99999"])
    if kind == 5:
        return rng.choice(["2001:db8::1", "fe80::1%eth0", "[2001:db8::1]:443", "::1", "1::2::3", "fe80::1/64"])
    if kind == 6:
        return str(rng.choice([0, 5, 500, 503, -1.5, "2e10", "0x1f", "+3", ".5", "1.", "007", "01234567"]))
    if kind == 7:
        return str(rng.randint(0, 10**rng.randint(1, 20)))
    if kind == 8:
        return rng.choice(["500ms", "1.5s", "2h", "10gb", "95%", "3µs", "4KiB", "1m"])
    if kind == 9:
        return h(rng.choice([7, 8, 12, 16, 32, 40, 64]))
    if kind == 10:
        return ":".join(h(2) for _ in range(6))
    if kind == 11:
        return f"00-{h(32)}-{h(16)}-01"
    if kind == 12:
        return f"checkout-{h(9)}-{k8s(5)}"
    if kind == 13:
        return f"coredns-{k8s(5)}-{k8s(5)}"
    if kind == 14:
        return f"auth-{h(6)}-{k8s(5)}"
    if kind == 15:
        return f"worker-{rng.choice(['ab1c2', '12345', 'abcde'])}"
    if kind == 16:
        return f"ip-10-0-{rng.randint(0, 255)}-{rng.randint(0, 255)}" + rng.choice(["", ".ec2.internal"])
    if kind == 17:
        return rng.choice(["api.prod.example.com", "web01.prod.example.com", "a.b.c.svc.cluster.local",
                           "example.zzz", "x.io:8080", "cache.local."])
    if kind == 18:
        return f"i-0{h(16)}"
    if kind == 19:
        return rng.choice(["abc1234", "req-8f3a2b", "1.2.3", "v1.2.3", "sha256:" + h(64), "1234e5678901"])
    if kind == 20:
        return rng.choice(["web-*", "*error*", "a?c", "ab\\*c", "x\\:y", "\\\"q\\\""])
    if kind == 21:
        return h(300) if rng.random() < 0.5 else "x" * 257 + "1"
    if kind == 22:
        return rng.choice(["<ID>", "<UUID>", "<TS>", "<HOST>", "<POD>", "<IP>", "<NUM>", "<ID", "<STR>"])
    return rng.choice(_WORDS)


def _value(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.55:
        return _literal(rng)
    if r < 0.7:
        return rng.choice(_WORDS)
    words = " ".join(rng.choice([_literal(rng), rng.choice(_WORDS)]) for _ in range(rng.randint(1, 5)))
    return '"' + words + '"'


def _lucene_term(rng: random.Random, depth: int) -> str:
    r = rng.random()
    if depth < 3 and r < 0.12:
        return "(" + _lucene_query(rng, depth + 1) + ")"
    if depth < 3 and r < 0.2:
        return rng.choice(_FIELDS) + ":(" + " OR ".join(_value(rng) for _ in range(rng.randint(1, 4))) + ")"
    if r < 0.27:
        return f"{rng.choice(_FIELDS)}:{rng.choice('[{')}{_literal(rng)} {rng.choice(['TO', 'to'])} " \
               f"{rng.choice([_literal(rng), '*', 'now'])}{rng.choice(']}')}"
    if r < 0.33:
        return f"{rng.choice(_FIELDS)}{rng.choice([':>', ':>=', ':<', ' >= ', ' < ', ': '])}{_literal(rng)}"
    if r < 0.4:
        return _value(rng)
    prefix = rng.choice(["", "", "", "-", "!", "+", "NOT "])
    return f"{prefix}{rng.choice(_FIELDS)}:{_value(rng)}"


def _lucene_query(rng: random.Random, depth: int = 0) -> str:
    out = [_lucene_term(rng, depth)]
    for _ in range(rng.randint(0, 6)):
        out.append(rng.choice([" AND ", " OR ", " ", " and ", " or ", " && ", " || ", " AND NOT ", "  "]))
        out.append(_lucene_term(rng, depth))
    return "".join(out)


def _sql_value(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.4:
        return "'" + _literal(rng).replace("'", "''") + "'"
    if r < 0.6:
        return str(rng.choice([5, 500, 1.5, "1e3", "0x1F", 1714557600000, 123456789012]))
    if r < 0.7:
        return rng.choice(["'ERROR'", "'warn'", "E'a\\'b'", "N'x'", "'it''s'", "'%timeout%'", "NULL", "now()"])
    return rng.choice(["a", "t.c", "u.id", "o.user_id", '"Quoted Col"', "`bq`"])


def _sql_cond(rng: random.Random, depth: int = 0) -> str:
    parts = []
    for i in range(rng.randint(1, 5)):
        if i:
            parts.append(rng.choice([" AND ", " OR ", " and ", " or "]))
        r = rng.random()
        col = rng.choice(["service", "status", "host", "trace_id", "ts", "o.total", "u.id", "level", "pod", "x"])
        if depth < 2 and r < 0.12:
            parts.append("(" + _sql_cond(rng, depth + 1) + ")")
        elif r < 0.2:
            parts.append(f"{col} BETWEEN {_sql_value(rng)} AND {_sql_value(rng)}")
        elif r < 0.28:
            parts.append(f"{col} IN ({', '.join(_sql_value(rng) for _ in range(rng.randint(1, 4)))})")
        elif r < 0.33 and depth < 2:
            parts.append(f"{col} IN (SELECT y FROM u WHERE {_sql_cond(rng, depth + 1)})")
        elif r < 0.38:
            parts.append(f"CASE WHEN {_sql_cond(rng, 2)} THEN 1 ELSE 0 END = 1")
        elif r < 0.43:
            parts.append(f"NOT {col} {rng.choice(['LIKE', 'ILIKE'])} {_sql_value(rng)}")
        elif r < 0.48:
            parts.append(f"{col} IS {rng.choice(['NULL', 'NOT NULL'])}")
        else:
            parts.append(f"{col} {rng.choice(['=', '!=', '<>', '>', '>=', '<', '<=', '='])} {_sql_value(rng)}")
    return "".join(parts)


def _sql_query(rng: random.Random) -> str:
    sel = rng.choice(["*", "count(*)", "service, count(*)", "a, b", "max(v) AS m", "DISTINCT k",
                      "CASE WHEN status >= 500 THEN 'err' ELSE 'ok' END AS k", "row_number() OVER (PARTITION BY k ORDER BY ts)"])
    q = rng.choice(["SELECT", "select", "Select"]) + f" {sel} FROM {rng.choice(['logs', 't', 'orders o', 'db.tbl'])}"
    if rng.random() < 0.35:
        q += f" {rng.choice(['JOIN', 'LEFT JOIN', 'INNER JOIN', 'left outer join', 'CROSS JOIN'])} u ON {_sql_cond(rng, 1)}"
    if rng.random() < 0.8:
        q += f" WHERE {_sql_cond(rng)}"
    if rng.random() < 0.3:
        q += " GROUP BY service"
        if rng.random() < 0.5:
            q += f" HAVING {rng.choice(['count(*)', 'max(v)'])} > {_sql_value(rng)} AND min(x) < 3"
    if rng.random() < 0.2:
        q += f" QUALIFY row_number() OVER (PARTITION BY k ORDER BY ts) = 1 AND k > 0"
    if rng.random() < 0.3:
        q += rng.choice([" ORDER BY 2 DESC", " order by a, b asc nulls last", " LIMIT 5", " LIMIT 10 OFFSET 20"])
    if rng.random() < 0.1:
        q += " UNION " + _sql_query(rng)
    if rng.random() < 0.1:
        q = f"WITH c AS ({q}) SELECT * FROM c WHERE {_sql_cond(rng)}"
    if rng.random() < 0.15:
        q += rng.choice([";", " ; ", " -- a comment", " /* c */", "\n"])
    return q


def _dql_cond(rng: random.Random, depth: int = 0) -> str:
    parts = []
    for i in range(rng.randint(1, 5)):
        if i:
            parts.append(rng.choice([" and ", " or ", " AND ", " xor ", " or not "]))
        r = rng.random()
        f = rng.choice(["loglevel", "k8s.namespace.name", "k8s.pod.name", "dt.entity.host", "status", "f1",
                        "trace_id", "host.name", "content", "`odd`"])
        if depth < 2 and r < 0.15:
            parts.append(("not " if rng.random() < 0.2 else "") + "(" + _dql_cond(rng, depth + 1) + ")")
        elif r < 0.25:
            parts.append(f'{rng.choice(["contains", "matchesValue", "startsWith", "in"])}({f}, "{_literal(rng)}")')
        else:
            v = rng.choice([f'"{_literal(rng)}"', _literal(rng), f"'{rng.choice(_WORDS)}'", "true", "now()-1h"])
            parts.append(f"{f} {rng.choice(['==', '!=', '>=', '<', '>', '='])} {v}")
    return "".join(parts)


def _dql_query(rng: random.Random) -> str:
    q = rng.choice(["fetch logs", "fetch bizevents, from:now()-2h", "timeseries avg(dt.host.cpu.usage)", "fetch spans",
                    "data record(a=1)"])
    for _ in range(rng.randint(0, 5)):
        r = rng.random()
        if r < 0.5:
            q += f" | {rng.choice(['filter', 'filterOut', 'FILTER'])} {_dql_cond(rng)}"
        elif r < 0.6:
            q += " | sort timestamp desc"
        elif r < 0.7:
            q += f" | limit {rng.randint(1, 1000)}"
        elif r < 0.8:
            q += " | summarize count(), by:{service, bin(timestamp, 5m)}"
        elif r < 0.85:
            q += f" | lookup [fetch x | filter {_dql_cond(rng, 1)}], sourceField:k, lookupField:k"
        elif r < 0.9:
            q += ' | parse content, "LD \'x\' INT:n"'
        else:
            q += " | fields timestamp, content // trailing comment"
    return q


def _kql_query(rng: random.Random) -> str:
    return " and ".join(f"{rng.choice(_FIELDS)}:{_value(rng)}" + (" or level:warn" if rng.random() < 0.3 else "")
                        for _ in range(rng.randint(1, 6)))


# --------------------------------------------------------------------------
# mutations, soup and bytes
# --------------------------------------------------------------------------
_SPECIAL = list(" \t\n()[]{}\"'`\\:;,.|&!+-*/%<>=?^~@#$") + ["AND", "OR", "NOT", "TO", " and ", " or ", "\x00",
                                                            "\ud800", "é", "☃", "<NUM>", "<ID", "&&", "||", "/*", "--"]


def _mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randint(0, len(chars))
        if op == 0 and chars:  # delete a span
            del chars[pos : pos + rng.randint(1, 5)]
        elif op == 1:  # insert a special token
            chars[pos:pos] = list(rng.choice(_SPECIAL))
        elif op == 2 and chars:  # swap two characters
            i, j = rng.randrange(len(chars)), rng.randrange(len(chars))
            chars[i], chars[j] = chars[j], chars[i]
        elif op == 3 and chars:  # duplicate a span
            span = chars[pos : pos + rng.randint(1, 20)]
            chars[pos:pos] = span
        elif op == 4 and chars:  # flip the case of a span
            for k in range(pos, min(len(chars), pos + rng.randint(1, 10))):
                chars[k] = chars[k].swapcase()
        elif op == 5:  # a random code point
            chars.insert(pos, chr(rng.choice([rng.randint(0, 0x7F), rng.randint(0x80, 0xFFFF), rng.randint(0x10000, 0x10FFFF)])))
        else:  # replace a character by a quote or a bracket
            if chars:
                chars[min(pos, len(chars) - 1)] = rng.choice("\"'`()[]{}")
    return "".join(chars)


def _soup(rng: random.Random) -> str:
    return "".join(rng.choice(_SPECIAL + _WORDS + _FIELDS) + rng.choice(("", " ", ":")) for _ in range(rng.randint(0, 40)))


def _random_bytes(rng: random.Random) -> str:
    data = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 120)))
    return data.decode(rng.choice(["latin-1", "utf-8"]), "surrogateescape" if rng.random() < 0.5 else "replace")


def _random_unicode(rng: random.Random) -> str:
    return "".join(chr(rng.choice([rng.randint(0, 0x7F), rng.randint(0x80, 0x2FFF), rng.randint(0xD800, 0xDFFF),
                                   rng.randint(0x10000, 0x10FFFF)])) for _ in range(rng.randint(0, 60)))


def _unbalanced(rng: random.Random) -> str:
    return "".join(rng.choice(["(", ")", "[", "]", "{", "}", '"', "'", "`", "a", "b:", " ", "\\", " OR ", " AND ",
                               "/*", "*/", "--", "\n", "|", "fetch ", "select "]) for _ in range(rng.randint(1, 30)))


# --------------------------------------------------------------------------
# harvested texts
# --------------------------------------------------------------------------
def _test_strings() -> list[str]:
    """Every string constant written in the normalize tests and in the package docstring."""
    paths = [REPO / "tests" / "unit" / name for name in ("test_normalize.py", "test_normalize_order.py",
                                                         "test_registry_rules.py")]
    paths.append(REPO / "alertrec" / "stages" / "normalize" / "__init__.py")  # the documented examples
    out: list[str] = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 5000:
                out.append(node.value)
    return out


def _fixture_queries() -> list[tuple[str, str | None]]:
    import pandas as pd

    out = []
    for path in sorted((REPO / "data" / "fixtures" / "actions").glob("*/*.parquet")):
        frame = pd.read_parquet(path)
        for payload in frame.loc[frame["action"] == "query_run", "payload"]:
            try:
                query = json.loads(payload).get("query") or {}
            except (TypeError, ValueError):
                continue
            if isinstance(query.get("text"), str):
                out.append((query["text"], query.get("language")))
    return out


def _shapes() -> list[tuple[str | None, object]]:
    """The bench's shapes and the tests' pathological shapes at every size, in their language and the others."""
    sys.path.insert(0, str(REPO))
    from bench.bench_canonical import SHAPES

    import tests.unit.test_normalize as tn

    makers = [(lang, make) for lang, shapes in SHAPES.items() for _, make in shapes]
    makers += [(lang, make) for make, lang, _ in tn.PATHOLOGICAL]
    out = []
    for lang, make in makers:
        for size in SIZES:
            text = make(size)
            out.append((lang, text))
            if size in (50, 1024, 10240):
                out.extend((other, text) for other in LANGUAGES if other != lang)
    return out


def build_corpus() -> list[tuple[str | None, str]]:
    """The (language, text) cases, de-duplicated, in a fixed order."""
    rng = random.Random(SEED)
    cases: list[tuple[str | None, object]] = []
    cases += _shapes()
    for text in _test_strings():
        cases.extend((lang, text) for lang in ALL_LANGUAGES)
    fixtures = _fixture_queries()
    cases += [(lang, text) for text, lang in fixtures]
    cases.extend((lang, text) for text, _ in fixtures[:: max(len(fixtures) // 60, 1)] for lang in ALL_LANGUAGES)
    realistic: list[tuple[str, str]] = []
    for _ in range(900):
        realistic.append(("lucene", _lucene_query(rng)))
    for _ in range(500):
        realistic.append(("dql", _kql_query(rng)))
    for _ in range(700):
        realistic.append(("dql", _dql_query(rng)))
    for _ in range(900):
        realistic.append(("sql", _sql_query(rng)))
    cases += realistic
    pool = realistic + [(lang, text) for text, lang in fixtures]
    for _ in range(2500):  # seeded truncations
        lang, text = rng.choice(pool)
        cut = rng.randint(0, len(text))
        cases.append((lang if rng.random() < 0.8 else rng.choice(ALL_LANGUAGES), text[:cut] if rng.random() < 0.7 else text[cut:]))
    for _ in range(2500):  # seeded mutations
        lang, text = rng.choice(pool)
        cases.append((lang if rng.random() < 0.8 else rng.choice(ALL_LANGUAGES), _mutate(rng, text)))
    for lang in LANGUAGES:  # long realistic texts: many queries glued
        for joiner in (" AND ", " OR ", " ", " and ", "\n"):
            texts = [t for la, t in realistic if la == lang]
            for n in (5, 40):
                glued = joiner.join(rng.choice(texts) for _ in range(n))
                cases.append((lang, glued))
                cases.append((lang, _mutate(rng, glued)))
    for _ in range(600):
        cases.append((rng.choice(ALL_LANGUAGES), _soup(rng)))
    for _ in range(300):
        cases.append((rng.choice(ALL_LANGUAGES), _random_bytes(rng)))
    for _ in range(300):
        cases.append((rng.choice(ALL_LANGUAGES), _random_unicode(rng)))
    for _ in range(400):
        cases.append((rng.choice(ALL_LANGUAGES), _unbalanced(rng)))
    for text in ("", " ", "\n\t", "\x00", "\ud800", "\udfff", "\\", "\\\\", '"', "'", "`", "()", "[]", "{}"):
        cases.extend((lang, text) for lang in ALL_LANGUAGES + ["LUCENE", "Sql", ""])
    seen: set[tuple[str | None, str]] = set()
    out: list[tuple[str | None, str]] = []
    for lang, text in cases:
        key = (lang, str(text))
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


def encode(value: str) -> str | dict[str, str]:
    """``value`` itself when JSON gives it back unchanged, else its surrogatepass UTF-8 bytes in hex."""
    if json.loads(json.dumps(value)) == value:
        return value
    return {"utf8sp": value.encode("utf-8", "surrogatepass").hex()}


def decode(value: str | dict[str, str]) -> str:
    """The inverse of :func:`encode`."""
    if isinstance(value, dict):
        return bytes.fromhex(value["utf8sp"]).decode("utf-8", "surrogatepass")
    return value


def main() -> int:
    sys.path.insert(0, str(REPO))
    from alertrec.stages.normalize import canonical_query

    corpus = build_corpus()
    records = [(lang, text, canonical_query(text, lang)) for lang, text in corpus]
    # the canonical forms are inputs too (a canonical form is its own canonical form, or not: recorded either way)
    seen = set(corpus)
    for lang, _, canon in list(records):
        if (lang, canon) not in seen:
            seen.add((lang, canon))
            records.append((lang, canon, canonical_query(canon, lang)))
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as gz:
        for record in records:
            lang, text, canon = record
            gz.write((json.dumps([lang, encode(text), encode(canon)]) + "\n").encode("utf-8"))
    OUT.write_bytes(buf.getvalue())
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("wrote %d cases (%d bytes) to %s", len(records), OUT.stat().st_size, OUT.relative_to(REPO))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
