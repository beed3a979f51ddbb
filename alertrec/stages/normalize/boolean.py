"""Order-insensitive rendering of boolean chains, shared by the Lucene and the SQL/DQL parsers.

A condition is a list of OR-separated chains of AND-joined terms (each term
already rendered as a string). Rendering sorts and de-duplicates the terms of
every chain and the chains themselves, so two orders of the same conditions
give one string.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def _frame_chains(items: list[tuple[str, object]]) -> list[list[str]]:
    """OR-separated chains of AND-joined terms, NOTs applied."""
    chains: list[list[str]] = [[]]
    negate = False
    for kind, value in items:
        if kind == "op":
            if value == "OR":
                if chains[-1]:
                    chains.append([])
                negate = False
            elif value == "NOT":
                negate = not negate
        elif kind == "terms":
            chains[-1].extend(value)  # type: ignore[arg-type]
        else:
            chains[-1].append(("NOT " + str(value)) if negate else str(value))
            negate = False
    return [chain for chain in chains if chain]


def _unique_chains(chains: list[list[str]]) -> list[list[str]]:
    """Chains with their terms sorted and de-duplicated, duplicate chains dropped."""
    if len(chains) == 1 and len(chains[0]) == 1:  # one term: nothing to sort (and no long string to hash)
        return [list(chains[0])]
    return [list(chain) for chain in sorted({tuple(sorted(set(chain))) for chain in chains})]


def _join_chains(chains: list[list[str]]) -> str:
    if len(chains) == 1 and len(chains[0]) == 1:
        return chains[0][0]
    rendered = sorted({" AND ".join(sorted(set(chain))) for chain in chains})
    return " OR ".join(rendered)
