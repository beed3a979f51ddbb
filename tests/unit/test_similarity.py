"""Best title matches in bounded memory: chunking changes nothing; ties by the earlier choice."""

from __future__ import annotations

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from alertrec.stages.similarity import best_matches


def test_best_matches_are_the_top_scores_with_ties_by_position():
    queries = ["high cpu on api", "disk full", "nothing alike"]
    choices = ["High CPU on api", "high cpu api", "Disk full on db", "disk full", "api high cpu on"]
    rows, cols, scores = best_matches(queries, choices, limit=2, threshold=60)
    got = {(int(r), int(c)) for r, c in zip(rows, cols)}
    # three choices score 100 for "high cpu on api" (token sets): the two earliest are kept
    assert [int(c) for r, c in zip(rows, cols) if r == 0] == [0, 1]
    assert [int(c) for r, c in zip(rows, cols) if r == 1] == [2, 3]
    assert not any(r == 2 for r, _ in got)
    for r, c, s in zip(rows, cols, scores):
        assert s == fuzz.token_set_ratio(queries[r], choices[c], processor=default_process) >= 60


def test_chunking_gives_the_same_matches():
    rng = np.random.default_rng(0)
    words = ["api", "db", "cpu", "disk", "latency", "5xx", "queue", "auth", "cart", "host"]
    titles = [" ".join(rng.choice(words, size=3)) for _ in range(300)]
    whole = best_matches(titles, titles[:200], limit=3, threshold=50, chunk=10_000)
    chunked = best_matches(titles, titles[:200], limit=3, threshold=50, chunk=7)
    for a, b in zip(whole, chunked):
        np.testing.assert_array_equal(a, b)
    assert np.bincount(whole[0]).max() <= 3
