"""Query canonicalization and item identity: the normalize stage.

The package shows the structure: :mod:`.literals` (the literal classifier),
:mod:`.lucene` (Lucene and KQL-style texts), :mod:`.expr` (SQL and DQL
pipelines, one token-stream engine), :mod:`.boolean` (order-insensitive AND/OR
chains, shared by both parsers), :mod:`.canonical` (dispatch by language and
:func:`query_item_id`), :mod:`.linking` (near-duplicate forms),
:mod:`.registry` (ids that hold across days) and :mod:`.frame` (the stage on
frames, :func:`normalize_items`).

Contract rule implemented (``shared/contract.md``, actions): *query texts that
differ only in literal values or in term order are the same query for
recommendation purposes. Literals are ids (hex, uuids, trace ids), timestamps,
hosts, pod names, IP addresses and numbers. Quoted phrases and enum-like
values are part of the query, not literals.*

Canonical form
--------------
:func:`canonical_query` turns a raw query text into its canonical form:

1. **Literals are masked** by a typed placeholder:

   ========== ==========================================================================
   ``<UUID>`` ``8-4-4-4-12`` hex uuids
   ``<TS>``   ISO-8601 dates/times (``2024-05-01``, ``2024-05-01T10:00:00.123Z``,
              ``2024-05-01 10:00:00+02:00``), times of day (``10:00:00``), epoch
              milli/micro/nanoseconds (13/16/19 digits starting with 1)
   ``<IP>``   IPv4 (optionally with ``/prefix`` or ``:port``) and IPv6 addresses
   ``<NUM>``  numbers (``500``, ``-1.5``, ``2e10``, ``0x1f``), also with a unit (``500ms``,
              ``2h``, ``10gb``, ``95%``)
   ``<ID>``   hex strings of 8+ hex digits (all-decimal ones when they have a leading
              zero or 17+ digits), trace/request ids made of such hex runs
              (``00-4bf9...-00f0...-01``, ``i-0abc123def4567890``), MAC addresses
   ``<POD>``  Kubernetes pod names ``name-<hash 5-10>-<hash 4-5>`` (a hash holds a
              digit, or both use the vowel-free Kubernetes alphabet, or the first is
              6+ hex digits) and ``name-<hash5>`` (digits and letters)
   ``<HOST>`` FQDNs with a known top-level label (``api.prod.example.com``,
              ``*.ec2.internal``, ``*.svc.cluster.local``), ``ip-10-0-3-17`` style
              hosts, ``localhost``
   ========== ==========================================================================

   **The field decides ambiguous words.** ``web01`` may be a host or an
   enum-like value (``svc12``, ``prod2``); ``123456789012`` a number or a
   12-hex-digit id that happens to hold no letter. So the field a value
   belongs to (Lucene ``field:value``, the column or field named last before
   a SQL/DQL literal, a ``field:( ... )`` group) gives a context:

   * a *host* field (its name holds host, server, node, instance, machine,
     computer or device): hostnames with digits (``web01``, ``db-3``,
     ``redis-master-2``) are ``<HOST>`` -- but not version/region/encoding
     words such as ``us-east-1``, ``checkout-v2``, ``utf-8``, ``sha256``;
   * a *pod* field (its name holds pod): any ``name-<x>-<y>`` is ``<POD>``;
   * an *id* field (its last dotted segment is id, ends in id/ids, or is
     uuid, hash, sha, commit, digest, fingerprint, version or build): any
     word with a digit is ``<ID>``, whole numbers included.

   Elsewhere such words stay: ``service:svc12`` is kept, ``host.name:web01``
   and ``version:123456789012`` are masked.

   A *value* (a bare term, the value of ``field:value``, a range bound, a
   SQL/DQL string or number) that is wholly a literal is replaced by its
   placeholder, its quotes dropped (``trace_id:"4bf9..."`` and
   ``trace_id:4bf9...`` are both ``trace_id:<ID>``). Inside a longer value
   or a quoted phrase only unmistakable literals (uuids, hex ids, IPs, ISO
   timestamps, pod names, FQDNs and ``ip-*`` hosts) are masked; words, small
   numbers and enum-like values stay, so ``message:"timeout exceeded"``,
   ``level:warn`` and ``http.route:"/api/cart"`` are kept verbatim. Field
   names are never masked. Values with wildcards (``host:web-*``) are kept.
2. **Terms are ordered.**

   * Lucene (and KQL-style DQL such as ``service:api and level:error``):
     ``AND``/``&&`` and whitespace join terms (implicit AND); AND binds
     tighter than ``OR``/``||``. Within every level (the top, each
     ``( ... )`` group, each ``field:( ... )`` group) the AND-joined terms are
     sorted and de-duplicated, the OR-joined alternatives too. A
     parenthesised group is a unit; a group that is a pure AND chain is
     merged into the AND chain around it, a one-term group loses its
     parentheses. ``!x`` and ``-x`` become ``NOT x``, ``+x`` becomes ``x``.
   * DQL pipelines (Dynatrace Query Language, ``fetch logs | filter a == "x"
     and b > 5 | sort timestamp desc | limit 100``): the stages keep their
     order; the condition of each ``filter``/``filterOut`` stage (and each
     parenthesised condition) is split at top-level ``and``/``or`` and sorted
     the same way.
   * SQL: the conditions of every ``WHERE``, ``JOIN ... ON``, ``HAVING``,
     ``QUALIFY`` and ``CASE WHEN ... THEN`` (in every subquery and every
     part of a ``UNION``), and every parenthesised condition, are split at
     top-level ``AND``/``OR`` (the ``AND`` of ``BETWEEN .. AND ..`` and of
     ``CASE .. END`` excepted) and sorted the same way, so
     ``JOIN t ON b.y = a.y AND b.x = a.x`` and the swapped ``ON`` are one
     query; the rest of the statement (select list, ``ORDER BY``, the order
     of the joins) keeps its order.
3. **Whitespace and keyword case are normalised**: one space between tokens,
   ``AND``/``OR``/``NOT``/``TO`` (and ``XOR`` in DQL) upper case; SQL
   keywords and function names upper case; comments dropped; no space
   inside parentheses or before commas. Field names, values and phrase text
   keep their case (a ``keyword`` field is case-sensitive).

``language`` is ``lucene``, ``dql`` or ``sql``. A ``dql`` text that is not a
pipeline (it does not start with ``fetch``/``timeseries``/... and has no
``| command``) follows the Lucene rules. ``None`` (or anything else) guesses:
SQL when the text starts with ``SELECT``/``WITH``, a DQL pipeline when it
looks like one, else Lucene.

Every input returns a string and nothing raises: unbalanced quotes run to the
end of the text, a stray closing bracket is dropped, unclosed ones are closed
at the end; the tokenizers are single-pass regexes with possessive
quantifiers and the grouping uses an explicit stack, so the time is linear in
the text length (apart from sorting the terms) and deep nesting cannot
overflow the stack. A canonical form is its own canonical form.

Cost: ~20 us per distinct query text on one core (terms and literals are
cached across texts); :func:`normalize_items` canonicalizes each distinct
(text, language) once, so 500k item rows with ~60k distinct texts take
~2.5 s, the worst case of all-distinct texts ~25 us per row.
"""

from __future__ import annotations

import logging

from alertrec.stages.normalize.canonical import canonical_query, query_item_id, query_text_item_id
from alertrec.stages.normalize.frame import normalize_items
from alertrec.stages.normalize.linking import link_near_duplicates
from alertrec.stages.normalize.literals import (
    P_HOST,
    P_ID,
    P_IP,
    P_NUM,
    P_POD,
    P_TS,
    P_UUID,
)
from alertrec.stages.normalize.registry import (
    QueryRegistry,
    assign_query_ids,
    empty_registry,
    merge_registry,
    new_registry_entries,
    validate_registry,
)

log = logging.getLogger(__name__)

__all__ = [
    "canonical_query",
    "query_item_id",
    "query_text_item_id",
    "normalize_items",
    "link_near_duplicates",
    "QueryRegistry",
    "assign_query_ids",
    "empty_registry",
    "merge_registry",
    "new_registry_entries",
    "validate_registry",
    "P_ID",
    "P_UUID",
    "P_TS",
    "P_HOST",
    "P_POD",
    "P_IP",
    "P_NUM",
]
