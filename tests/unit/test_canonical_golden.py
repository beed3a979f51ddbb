"""The canonicalizer reproduces, byte for byte, the canonical forms recorded in ``data/canonical_golden.jsonl.gz``.

The golden file (written by ``tests/unit/data/make_canonical_golden.py``
before the canonicalizer was optimised for speed, issue 10) holds ~24,000
seeded cases: the bench's shapes and the pathological shapes at sizes up to
10 KB, every string of the normalize tests, the fixtures' query texts,
generated Lucene/KQL/DQL/SQL queries with every kind of literal, their
truncations and mutations, token soup, random bytes and unicode, unbalanced
quotes and brackets and empty texts, in every language (``None`` and unknown
ones included). A canonical form is an item id: any difference is a changed
id, so the comparison is exact.
"""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest

from alertrec.stages.normalize import canonical_query
from alertrec.stages.normalize.canonical import log as canonical_log

log = logging.getLogger(__name__)

GOLDEN = Path(__file__).resolve().parent / "data" / "canonical_golden.jsonl.gz"


def _decode(value: str | dict[str, str]) -> str:
    """A recorded string: itself, or ``{"utf8sp": hex}`` for one that JSON would not give back unchanged."""
    if isinstance(value, dict):
        return bytes.fromhex(value["utf8sp"]).decode("utf-8", "surrogatepass")
    return value


def _records() -> list[tuple[str | None, str, str]]:
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return [(language, _decode(text), _decode(canonical)) for language, text, canonical in rows]


RECORDS = _records()


def test_the_golden_file_is_large_and_varied():
    languages = {language for language, _, _ in RECORDS}
    assert len(RECORDS) > 20_000
    assert {"lucene", "dql", "sql", None} <= languages
    assert any(len(text) >= 10_240 for _, text, _ in RECORDS)
    assert any(text == "" for _, text, _ in RECORDS)
    assert len({canonical for _, _, canonical in RECORDS}) > 10_000  # not one form for everything


@pytest.mark.parametrize("order", ["forward", "backward"])
def test_every_recorded_case_gives_its_recorded_canonical_form(order, caplog):
    """Exact equality for every case; run in two orders, so that what the caches hold changes nothing."""
    records = RECORDS if order == "forward" else RECORDS[::-1]
    mismatches = []
    with caplog.at_level(logging.WARNING, logger=canonical_log.name):
        for language, text, expected in records:
            got = canonical_query(text, language)
            if got != expected:
                mismatches.append((language, text, expected, got))
    shown = "\n".join(
        f"{lang!r} {text[:120]!r}\n  expected {exp[:160]!r}\n  got      {got[:160]!r}"
        for lang, text, exp, got in mismatches[:10]
    )
    assert not mismatches, f"{len(mismatches)} of {len(records)} cases differ:\n{shown}"
    assert "could not canonicalize" not in caplog.text  # the safety net was not needed
