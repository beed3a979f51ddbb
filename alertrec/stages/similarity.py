"""Title similarity, the one copy: the best matches of each query among many choices, in
bounded memory.

Both rankers compare alert titles (and the learned ranker compares titles with item
labels) with rapidfuzz's ``token_set_ratio`` and ``processor=default_process``. An account
can hold tens of thousands of definitions, so the full query × choice matrix is never
built: queries are scored in chunks of ``chunk`` rows (``float32`` scores, at most
``4 × chunk × len(choices)`` bytes at a time) and only each row's ``limit`` best matches
leave a chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.utils import default_process

log = logging.getLogger(__name__)

#: rows of the query × choice matrix scored at a time (with 50,000 choices: 100 MB)
CHUNK_ROWS = 512


def best_matches(
    queries: Sequence[str],
    choices: Sequence[str],
    limit: int,
    threshold: float,
    chunk: int = CHUNK_ROWS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each query's at most ``limit`` most similar choices scoring at least ``threshold``.

    Parameters
    ----------
    queries, choices : sequence of str
    limit : int
        Matches kept per query; ties by the choice's position (best first, then the
        earlier choice).
    threshold : float
        Minimum ``token_set_ratio`` (0-100); a score of 0 never matches.
    chunk : int
        Queries scored at a time.

    Returns
    -------
    (rows, cols, scores)
        Query index, choice index and score (float64, 0-100) of each match, by query, best
        first.
    """
    n_choices = len(choices)
    if not len(queries) or not n_choices or limit <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float64)
    cutoff = max(float(threshold), 1e-9)
    k = min(limit, n_choices)
    out_rows, out_cols, out_scores = [], [], []
    position = np.arange(n_choices, dtype=np.int64)
    for start in range(0, len(queries), chunk):
        block = list(queries[start : start + chunk])
        sim = process.cdist(
            block,
            list(choices),
            scorer=fuzz.token_set_ratio,
            processor=default_process,
            score_cutoff=cutoff,
            dtype=np.float32,
            workers=1,
        )
        # a unique key per cell: higher score first (to 1/1000), then the earlier choice
        key = np.rint(sim.astype(np.float64) * 1000).astype(np.int64) * n_choices + (n_choices - 1 - position)
        if k < n_choices:
            top = np.argpartition(-key, k - 1, axis=1)[:, :k]
        else:
            top = np.broadcast_to(position, (len(block), n_choices))
        top_key = np.take_along_axis(key, top, axis=1)
        order = np.argsort(-top_key, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        scores = np.take_along_axis(sim, top, axis=1)
        keep = scores >= cutoff
        rows = np.repeat(np.arange(len(block), dtype=np.int64), top.shape[1]).reshape(top.shape)
        out_rows.append(rows[keep] + start)
        out_cols.append(top[keep].astype(np.int64))
        out_scores.append(scores[keep].astype(np.float64))
    return np.concatenate(out_rows), np.concatenate(out_cols), np.concatenate(out_scores)
