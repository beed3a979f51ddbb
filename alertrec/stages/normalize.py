"""Query canonicalization and item identity: the normalize stage.

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
   * SQL: the predicates of every ``WHERE`` clause (and of parenthesised
     conditions inside it) are split at top-level ``AND``/``OR`` (the ``AND``
     of ``BETWEEN .. AND ..`` and of ``CASE .. END`` excepted) and sorted the
     same way; the rest of the statement keeps its order.
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

import functools
import hashlib
import ipaddress
import logging
import re

import numpy as np
import pandas as pd

from alertrec import schema as S

log = logging.getLogger(__name__)

__all__ = [
    "canonical_query",
    "query_item_id",
    "normalize_items",
    "P_ID",
    "P_UUID",
    "P_TS",
    "P_HOST",
    "P_POD",
    "P_IP",
    "P_NUM",
]

P_ID = "<ID>"
P_UUID = "<UUID>"
P_TS = "<TS>"
P_HOST = "<HOST>"
P_POD = "<POD>"
P_IP = "<IP>"
P_NUM = "<NUM>"

# --------------------------------------------------------------------------
# Literal classification (all patterns are matched on the lower-cased token)
# --------------------------------------------------------------------------
_MAX_LITERAL_LEN = 256  # longer tokens are only checked for being one long hex blob

_UUID_RE = re.compile(r"\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?")
_ISO_TS_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[t ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?"
    r"(?:z|[+-]\d{2}(?::?\d{2})?)?"
)
_TIME_RE = re.compile(r"\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:z|[+-]\d{2}(?::?\d{2})?)?")
_EPOCH_RE = re.compile(r"1\d{12}|1\d{15}|1\d{18}")  # epoch ms / us / ns (2001..2286)
_IPV4_RE = re.compile(
    r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
    r"(?:/\d{1,2}|:\d{1,5})?"
)
_IPV6_CANDIDATE_RE = re.compile(r"\[?[0-9a-f:.]*:[0-9a-f:.]*:[0-9a-f:.]*(?:%[0-9a-z]+)?\]?(?:/\d{1,3}|:\d{1,5})?")
_NUM_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d{1,3})?|0x[0-9a-f]+")
# a number with a unit: 500ms, 1.5s, 2h, 10gb, 95%
_NUM_UNIT_RE = re.compile(r"[+-]?(?:\d+(?:\.\d+)?)(?:ns|us|µs|ms|s|sec|m|min|h|d|w|kb|mb|gb|tb|kib|mib|gib|tib|%)")
_HEX_RE = re.compile(r"[0-9a-f]{8,}")
_MAC_RE = re.compile(r"(?:[0-9a-f]{2}[:-]){5}[0-9a-f]{2}")
_ID_SEGMENT_RE = re.compile(r"[0-9a-f]*\d[0-9a-f]*")  # a hex run holding a digit
_ID_SPLIT_RE = re.compile(r"[-_]")
_ID_SHAPE_RE = re.compile(r"[0-9a-z]+(?:[-_][0-9a-z]+)+")
# name-<replicaset hash>-<pod hash> (Deployments), name-<hash> (DaemonSets, Jobs)
_POD_RE = re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?-(?P<rs>[a-z0-9]{5,10})-(?P<sfx>[a-z0-9]{4,5})")
_POD_ONE_RE = re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?-(?P<one>[a-z0-9]{5})")
_K8S_SAFE_RE = re.compile(r"[bcdfghjklmnpqrstvwxz2456789]+")  # the alphabet of Kubernetes name hashes
_HEX_ONLY_RE = re.compile(r"[0-9a-f]+")
_ID_TOKEN_RE = re.compile(r"[0-9a-z._:/+-]*\d[0-9a-z._:/+-]*")
_IP_HOST_RE = re.compile(r"ip-\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3}(?:\.[a-z0-9-]+)*")
_FQDN_RE = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?P<tld>[a-z]{2,24})\.?(?::\d{1,5})?"
)
_TLDS = frozenset(
    "com net org io dev cloud internal local localdomain localhost lan corp intra intranet svc "
    "co uk de eu us".split()
)
_DIGIT_HOST_RE = re.compile(r"[a-z][a-z0-9-]*(?:-\d+|[a-z]\d{2,})")
_NOT_A_HOST_RE = re.compile(
    # versions, regions, encodings, hashes, architectures, runtimes
    r".*(?:^|[-_])v\d+"
    r"|(?:us|eu|ap|sa|ca|me|af|il|cn|mx)(?:-gov|-iso[a-z]?)?-"
    r"(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-\d+"
    r"|(?:base|sha|md|u?int|float|amd|arm|x86|aarch|utf|ucs|latin|iso|cp|http|https|tls|ssl|ipv"
    r"|nodejs|python|py|java|jdk|jre|ruby|php|dotnet|net|go|golang|es|rfc|win|ubuntu|debian"
    r"|centos|rhel|el|fc|alpine)[-_]?\d+(?:[-_.]\d+)*"
)
_WILDCARD_RE = re.compile(r"[*?]")
_DIGIT_RE = re.compile(r"\d")
_SUBTOKEN_RE = re.compile(r"[0-9A-Za-z._:+\-]++")
_EDGE_PUNCT = "._:+-"
_BACKSLASH_RE = re.compile(r"\\(.)", re.S)
_WS_RE = re.compile(r"\s+")
_PLAIN_WORD_RE = re.compile(r"[0-9A-Za-z](?:[0-9A-Za-z._+\-]*+(?<=[0-9A-Za-z]))?")
_HOST_FIELD_RE = re.compile(r"host|server|node|instance|machine|computer|device")
_ID_FIELD_NAMES = frozenset("id ids uuid guid hash sha commit digest fingerprint version build".split())

# the field a value belongs to: it settles what an ambiguous word is
CTX_NONE = ""  # a bare value, or an ordinary field
CTX_HOST = "host"  # host.name, hostname, server, kubernetes.node.name, ...: web01 is a host
CTX_ID = "id"  # trace.id, worker.id, message_id, version, commit, ...: 123456789012 is an id
CTX_POD = "pod"  # kubernetes.pod.name, pod, ...: auth-cfbefa-wqrcc is a pod even without digits


@functools.lru_cache(maxsize=1 << 12)
def _field_context(field: str) -> str:
    """``CTX_HOST``, ``CTX_POD``, ``CTX_ID`` or ``CTX_NONE`` for a field name (its last dotted segment decides ids)."""
    name = field.strip("`\"'").lower()
    if _HOST_FIELD_RE.search(name):
        return CTX_HOST
    if "pod" in name:
        return CTX_POD
    last = re.split(r"[.:]", name)[-1] if name else ""
    if last in _ID_FIELD_NAMES or last.endswith(("id", "ids")):
        return CTX_ID
    return CTX_NONE

# the placeholders that count as "unmistakable" inside a longer value or a phrase
_STRONG = frozenset({P_UUID, P_TS, P_IP, P_ID, P_POD})


@functools.lru_cache(maxsize=1 << 16)
def _classify(token: str, context: str = CTX_NONE) -> str | None:
    """The placeholder of a token that is wholly a literal, else ``None``.

    ``context`` is the :func:`_field_context` of the field the token is the
    value of. Where it is ``CTX_HOST`` a hostname with digits (``web01``,
    ``db-3``) is a host; elsewhere such a word is an enum-like value
    (``svc12``, ``prod2``) and stays. Where it is ``CTX_ID`` a whole number is
    an id (a 12-hex-digit id can happen to be all decimal digits, so
    ``version:123456789012`` must read like ``version:5494a302b56b``).
    """
    t = token.strip().lower()
    if not t:
        return None
    if len(t) > _MAX_LITERAL_LEN:
        return P_ID if _HEX_RE.fullmatch(t) else None
    if _DIGIT_RE.search(t) is None:  # fast path: words (error, checkout-service, api.example.com)
        if len(t) >= 8 and (_HEX_RE.fullmatch(t) or _UUID_RE.fullmatch(t)):
            return P_UUID if "-" in t else P_ID
        if t == "localhost":
            return P_HOST
        if "-" in t:
            m = _POD_RE.fullmatch(t)
            if m is not None and (
                context == CTX_POD
                or _K8S_SAFE_RE.fullmatch(m.group("rs") + m.group("sfx"))  # coredns-bcdfg-hjklm
                or (len(m.group("rs")) >= 6 and _HEX_ONLY_RE.fullmatch(m.group("rs")))  # auth-cfbefa-wqrcc
            ):
                return P_POD
        if "." in t:
            m = _FQDN_RE.fullmatch(t)
            if m is not None and m.group("tld") in _TLDS:
                return P_HOST
        return None
    first = t[0]
    if first.isdigit() or first in "+-.{[":
        if _UUID_RE.fullmatch(t):
            return P_UUID
        if _ISO_TS_RE.fullmatch(t) or _TIME_RE.fullmatch(t) or _EPOCH_RE.fullmatch(t):
            return P_TS
        if _IPV4_RE.fullmatch(t):
            return P_IP
        if t.isdigit() and (len(t) >= 17 or (len(t) >= 8 and first == "0")):
            return P_ID  # an id of hex digits that happen to be decimal ones (numbers have no leading 0)
        if context == CTX_ID and "." not in t and _ID_TOKEN_RE.fullmatch(t):
            return P_ID  # 123456789012, 1234e5678901: hex ids that read like numbers
        if _NUM_RE.fullmatch(t) or _NUM_UNIT_RE.fullmatch(t):
            return P_NUM
    elif _UUID_RE.fullmatch(t):
        return P_UUID
    if ":" in t and _IPV6_CANDIDATE_RE.fullmatch(t) and _is_ipv6(t):
        return P_IP
    if _HEX_RE.fullmatch(t) or _MAC_RE.fullmatch(t):
        return P_ID
    m = _POD_RE.fullmatch(t)
    if m is not None:  # the hashes hold a digit, or look like hashes (hex, or no vowels)
        rs, sfx = m.group("rs"), m.group("sfx")
        if context == CTX_POD or _DIGIT_RE.search(rs + sfx) or _K8S_SAFE_RE.fullmatch(rs + sfx):
            return P_POD
    m = _POD_ONE_RE.fullmatch(t)
    if m is not None and _DIGIT_RE.search(m.group("one")) and not m.group("one").isdigit():
        return P_POD  # name-<hash5> with digits and letters
    if _ID_SHAPE_RE.fullmatch(t):
        for segment in _ID_SPLIT_RE.split(t):
            if len(segment) >= 8 and _ID_SEGMENT_RE.fullmatch(segment):
                return P_ID
    if _IP_HOST_RE.fullmatch(t) or t == "localhost":
        return P_HOST
    m = _FQDN_RE.fullmatch(t)
    if m is not None and m.group("tld") in _TLDS:
        return P_HOST
    if context == CTX_HOST and _DIGIT_HOST_RE.fullmatch(t) and not _NOT_A_HOST_RE.fullmatch(t):
        return P_HOST
    if context == CTX_ID and _ID_TOKEN_RE.fullmatch(t):
        return P_ID  # any word with a digit is an id in an id field: abc1234, req-8f3a2b, 1.2.3
    return None


def _is_ipv6(t: str) -> bool:
    core = t.strip("[]")
    if "]" in t:  # [addr]:port
        core = t[1 : t.index("]")]
    core = core.split("%", 1)[0]
    if "/" in core:
        core = core.split("/", 1)[0]
    try:
        ipaddress.IPv6Address(core)
    except ValueError:
        return False
    return True


def _mask_inside(text: str) -> str:
    """Mask the unmistakable literals inside a longer value or a phrase."""

    def strong(core: str) -> str | None:
        kind = _classify(core)
        if kind in _STRONG or (kind == P_HOST and ("." in core or core.startswith("ip-"))):
            return kind
        return None

    def repl(m: re.Match[str]) -> str:
        raw = m.group(0)
        core = raw.strip(_EDGE_PUNCT)
        if not core:
            return raw
        kind = strong(core)
        if kind is None and ":" in core:  # key:value, sha256:<hex>, host:port
            parts = core.split(":")
            masked = [(strong(part) or part) if part else part for part in parts]
            if masked != parts:
                kind = ":".join(masked)
        if kind is None:
            return raw
        start = raw.index(core)
        return raw[:start] + kind + raw[start + len(core) :]

    return _SUBTOKEN_RE.sub(repl, text)


@functools.lru_cache(maxsize=1 << 16)
def _mask_value(text: str, unescape: bool, context: str = CTX_NONE) -> str:
    """A value: its placeholder when it is wholly a literal, else masked inside."""
    plain = _BACKSLASH_RE.sub(r"\1", text) if unescape and "\\" in text else text
    if _WILDCARD_RE.search(plain):
        return text
    kind = _classify(plain, context)
    if kind is not None:
        return kind
    if _PLAIN_WORD_RE.fullmatch(text):  # one sub-token, and it is not a literal
        return text
    return _mask_inside(text)


# --------------------------------------------------------------------------
# Lucene / DQL
# --------------------------------------------------------------------------
# Coarse tokens: a "run" is glued text (no whitespace outside quotes, no parentheses or brackets):
# one term such as field:value, field:"a phrase", -field:>=5.
_LQ_COARSE_RE = re.compile(
    r"""
    (?P<ws>\s+)
   |(?P<lp>\()
   |(?P<rp>\))
   |(?P<lb>[\[{])
   |(?P<rb>[\]}])
   |(?P<and>&&)
   |(?P<or>\|\|)
   |(?P<run>(?:"(?:[^"\\]++|\\[\s\S])*+"?|\\[\s\S]|[^\s"()\[\]{}\\&|]++|&(?!&)|\|(?!\|))++)
   |(?P<other>[\s\S])
    """,
    re.X,
)
# Fine tokens of one run (only lexed when a term is not in the cache).
_LQ_PIECE_RE = re.compile(
    r"""
    (?P<q>"(?:[^"\\]++|\\[\s\S])*+(?P<qend>")?)
   |(?P<ph><(?:ID|UUID|TS|HOST|POD|IP|NUM)>)
   |(?P<cmp>[<>]=?)
   |(?P<colon>:)
   |(?P<word>(?:\\[\s\S]|[^"\\:<>])++)
   |(?P<other>[\s\S])
    """,
    re.X,
)
_ENDS_WITH_OPERATOR_RE = re.compile(r"(?:(?<!\\)[:<>]|[<>]=)\Z")
_PLACEHOLDER_END_RE = re.compile(r"<(?:ID|UUID|TS|HOST|POD|IP|NUM)>\Z")
_PLACEHOLDER_START_RE = re.compile(r"<(?:ID|UUID|TS|HOST|POD|IP|NUM)>")
_BOOL_WORDS = {"and": "AND", "or": "OR", "not": "NOT", "&&": "AND", "||": "OR"}
_OPERATOR_PIECES = ("colon", "cmp")
_PREFIX_ONLY = ("-", "!", "+")


class _Run:
    """One term: glued text segments and ranges, ``field:[a TO b]`` included.

    ``segs`` holds raw text (``str``) and ranges ``(opener, [raw run, ...], closer)``.
    """

    __slots__ = ("segs",)

    def __init__(self, seg: object) -> None:
        self.segs: list[object] = [seg]

    def ends_with_operator(self) -> bool:
        last = self.segs[-1]
        return (
            isinstance(last, str)
            and _ENDS_WITH_OPERATOR_RE.search(last) is not None
            and _PLACEHOLDER_END_RE.search(last) is None
            and not (last.startswith('"') and last.count('"') == 1)  # an unterminated phrase
        )

    def prefix_only(self) -> bool:
        """A lone ``-``, ``!`` or ``+`` (glued to a following group)."""
        return len(self.segs) == 1 and self.segs[0] in _PREFIX_ONLY

    def plain(self) -> str | None:
        """The run's text when it holds no range."""
        if all(isinstance(seg, str) for seg in self.segs):
            return "".join(self.segs)  # type: ignore[arg-type]
        return None

    def pieces(self) -> list[tuple[str, object]]:
        out: list[tuple[str, object]] = []
        for seg in self.segs:
            if isinstance(seg, str):
                out.extend(_pieces(seg))
            else:
                out.append(("range", seg))
        return out


def _pieces(raw: str) -> list[tuple[str, object]]:
    """Fine tokens of glued text: (kind, text); a phrase's text is what is inside the quotes."""
    out: list[tuple[str, object]] = []
    for m in _LQ_PIECE_RE.finditer(raw):
        kind = m.lastgroup
        tok = m.group(0)
        if kind == "q":
            out.append(("q", tok[1:-1] if m.group("qend") else tok[1:]))
        elif kind == "ph":  # a placeholder: a canonical form is canonical again
            out.append(("word", tok))
        else:
            out.append((kind, tok))  # type: ignore[arg-type]
    return out


def _lucene_atoms(text: str) -> list[tuple[str, object]]:
    """Atoms: ('run', _Run) | ('op', AND|OR|NOT) | ('lp', None) | ('rp', None).

    ``field: value`` and ``bytes >= 5`` (runs split by spaces around ``:`` or
    a comparison) are joined into one run; a run right before a ``(`` that
    ends with ``:`` (``field:(a OR b)``) or is a lone ``-``/``!``/``+``
    becomes that group's prefix: ``('lp', run)``.
    """
    atoms: list[tuple[str, object]] = []
    spaced = True
    rng: tuple[str, list[list[str]], bool] | None = None  # an open range: opener, its runs' tokens, glued
    rng_depth = 0
    rng_spaced = True
    for m in _LQ_COARSE_RE.finditer(text):
        kind = m.lastgroup
        tok = m.group(0)
        if rng is not None:  # inside [a TO b] / {a TO b}
            if kind == "ws":
                rng_spaced = True
                continue
            if kind == "rb" and rng_depth == 0:
                _add_run(atoms, (rng[0], ["".join(r) for r in rng[1]], tok), rng[2])
                rng = None
                spaced = False
                continue
            if kind == "lb":
                rng_depth += 1
            elif kind == "rb":
                rng_depth -= 1
            runs = rng[1]
            if rng_spaced or not runs:
                runs.append([tok])
            else:
                runs[-1].append(tok)
            rng_spaced = False
            continue
        if kind == "ws":
            spaced = True
            continue
        if kind == "run" or kind == "other":
            word = _BOOL_WORDS.get(tok.lower()) if len(tok) <= 3 else None
            if word is not None:
                atoms.append(("op", word))
            else:
                _add_run(atoms, tok, not spaced)
        elif kind == "lb":
            rng, rng_depth, rng_spaced = (tok, [], not spaced), 0, True
        elif kind == "rb":  # a stray closing bracket is just a character
            _add_run(atoms, tok, not spaced)
        elif kind == "lp":
            last = atoms[-1] if atoms else None
            prev = last[1] if last is not None and last[0] == "run" else None
            if isinstance(prev, _Run) and (prev.ends_with_operator() or prev.prefix_only()):
                atoms[-1] = ("lp", prev)
            else:
                atoms.append(("lp", None))
        elif kind == "rp":
            atoms.append(("rp", None))
        else:  # && ||
            atoms.append(("op", _BOOL_WORDS[tok]))
        spaced = False
    if rng is not None:  # an unclosed range is closed at the end
        _add_run(atoms, (rng[0], ["".join(r) for r in rng[1]], "]" if rng[0] == "[" else "}"), rng[2])
    return atoms


def _add_run(atoms: list[tuple[str, object]], seg: object, glued: bool) -> None:
    last = atoms[-1] if atoms else None
    if last is not None and last[0] == "run":
        prev: _Run = last[1]  # type: ignore[assignment]
        starts_with_cmp = isinstance(seg, str) and seg[:1] in ("<", ">") and _PLACEHOLDER_START_RE.match(seg) is None
        if glued or starts_with_cmp or prev.ends_with_operator():  # field:value, field: value, bytes >= 5
            prev.segs.append(seg)
            return
    atoms.append(("run", _Run(seg)))


def _render_range(opener: str, runs: list[str], closer: str, context: str) -> str:
    parts = []
    for raw in runs:
        parts.append("TO" if raw.lower() == "to" else _render_value(_pieces(raw), context))
    return opener + " ".join(parts) + closer


def _render_value(pieces: list[tuple[str, object]], context: str) -> str:
    if not pieces:
        return ""
    if len(pieces) == 1:
        kind, text = pieces[0]
        if kind == "word":
            return _mask_value(str(text), True, context)
        if kind == "q":
            return _render_phrase(str(text), context)
    if all(kind in ("word", "colon", "cmp", "other") for kind, _ in pieces):
        return _mask_value("".join(str(text) for _, text in pieces), True, context)
    out = []
    for kind, text in pieces:
        if kind == "q":
            out.append(_render_phrase(str(text), context))
        elif kind == "range":
            out.append(_render_range(*text, context))  # type: ignore[misc]
        else:
            out.append(_mask_value(str(text), True, context))
    return "".join(out)


def _render_phrase(inner: str, context: str) -> str:
    """A quoted phrase: its placeholder when it is wholly a literal, else kept (masked inside)."""
    inner = _WS_RE.sub(" ", inner).strip()
    plain = _BACKSLASH_RE.sub(r"\1", inner) if "\\" in inner else inner
    kind = _classify(plain, context)
    if kind is not None:
        return kind
    return '"' + _mask_inside(inner) + '"'


def _strip_prefix(text: str) -> tuple[str, bool]:
    """Drop leading ``-``/``!``/``+``; whether they negate."""
    negate = False
    while text and text[0] in "!-+":
        if text[0] != "+":
            negate = not negate
        text = text[1:]
    return text, negate


def _render_term(run: _Run, context: str) -> str:
    """One term: ``[NOT ]field:value``, ``field op value`` or a bare value.

    ``context``: the field context of an enclosing ``field:( ... )`` group.
    """
    plain = run.plain()
    if plain is not None:  # cached: terms repeat across queries
        return _render_plain_term(plain, context)
    return _render_term_pieces(run.pieces(), context)


@functools.lru_cache(maxsize=1 << 17)
def _render_plain_term(raw: str, context: str) -> str:
    return _render_term_pieces(_pieces(raw), context)


def _render_term_pieces(pieces: list[tuple[str, object]], context: str) -> str:
    negate = False
    if pieces and pieces[0][0] == "word":
        first = str(pieces[0][1])
        stripped, neg = _strip_prefix(first)
        # '-' before a digit or '.' is a sign ("-5"), not a prefix operator
        if stripped != first and (not stripped or stripped[0].isalpha() or stripped[0] in "_@*"):
            if stripped or len(pieces) > 1:
                negate = neg
                pieces = ([("word", stripped)] if stripped else []) + pieces[1:]
    # field name: the words before the first ':' or comparison
    sep = None
    for i, (kind, _) in enumerate(pieces):
        if kind in _OPERATOR_PIECES:
            sep = i
            break
        if kind not in ("word", "other"):
            break
    whole = None
    if sep is not None and all(kind in ("word", "colon", "other") for kind, _ in pieces):
        # a bare literal that holds colons: 10:00:00, fe80::1, 2024-05-01T10:00:00Z
        joined = "".join(str(text) for _, text in pieces)
        whole = _classify(_BACKSLASH_RE.sub(r"\1", joined))
        if whole not in (P_IP, P_TS):
            whole = None
    if whole is not None:
        term = whole
    elif sep is None:
        term = _render_value(pieces, context)
    else:
        field = "".join(str(text) for _, text in pieces[:sep])
        if field:
            context = _field_context(field)
        op = str(pieces[sep][1])
        j = sep + 1
        if pieces[sep][0] == "colon" and j < len(pieces) and pieces[j][0] == "cmp":  # field:>=5
            op += str(pieces[j][1])
            j += 1
        value = _render_value(pieces[j:], context)
        if field and pieces[sep][0] == "cmp":  # DQL: bytes >= 5
            term = f"{field} {op} {value}".rstrip()
        else:
            term = f"{field}{op}{value}"
    return ("NOT " + term) if negate and term else term


class _Frame:
    __slots__ = ("prefix", "items", "context")

    def __init__(self, prefix: str, context: str = CTX_NONE) -> None:
        self.prefix = prefix
        self.context = context  # the field context of a field:( ... ) group
        # ("op", "AND"|"OR"|"NOT") | ("term", str) | ("terms", list[str]) (a merged pure-AND group)
        self.items: list[tuple[str, object]] = []


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
    return [list(chain) for chain in sorted({tuple(sorted(set(chain))) for chain in chains})]


def _join_chains(chains: list[list[str]]) -> str:
    rendered = sorted({" AND ".join(sorted(set(chain))) for chain in chains})
    return " OR ".join(rendered)


def _lucene_canonical(text: str) -> str:
    atoms = _lucene_atoms(text)
    stack = [_Frame("")]
    for kind, value in atoms:
        if kind == "lp":
            prefix = ""
            context = stack[-1].context
            if isinstance(value, _Run):
                if value.prefix_only():
                    if _strip_prefix(str(value.segs[0]))[1]:
                        stack[-1].items.append(("op", "NOT"))
                else:
                    prefix = _render_term(value, context)
                    field = "".join(seg for seg in value.segs if isinstance(seg, str))
                    context = _field_context(field.rstrip(":")) or context
            stack.append(_Frame(prefix, context))
        elif kind == "rp":
            if len(stack) > 1:  # a stray ')' is dropped
                _close_group(stack)
        elif kind == "op":
            stack[-1].items.append(("op", value))
        else:
            term = _render_term(value, stack[-1].context)  # type: ignore[arg-type]
            if term:
                stack[-1].items.append(("term", term))
    while len(stack) > 1:  # unclosed '(' are closed at the end
        _close_group(stack)
    return _join_chains(_frame_chains(stack[0].items))


def _close_group(stack: list[_Frame]) -> None:
    frame = stack.pop()
    parent = stack[-1]
    chains = _unique_chains(_frame_chains(frame.items))
    if not chains:
        if frame.prefix:
            parent.items.append(("term", frame.prefix + "()"))
        return
    negated = bool(parent.items) and parent.items[-1] == ("op", "NOT")
    if not frame.prefix and len(chains) == 1 and not (negated and len(chains[0]) > 1):
        # a pure AND group: its terms join the AND chain around it
        terms = sorted(set(chains[0]))
        if len(terms) == 1:
            parent.items.append(("term", terms[0]))
        else:
            parent.items.append(("terms", terms))
        return
    if frame.prefix and len(chains) == 1 and len(chains[0]) == 1 and " " not in chains[0][0]:
        parent.items.append(("term", frame.prefix + chains[0][0]))  # status:(500 OR 503) is status:<NUM>
        return
    parent.items.append(("term", frame.prefix + "(" + _join_chains(chains) + ")"))


# --------------------------------------------------------------------------
# SQL and DQL pipelines (one token-stream engine, two dialects)
# --------------------------------------------------------------------------
_SQL_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
   |(?P<comment>--[^\n]*+|/\*(?:[^*]++|\*(?!/))*+(?:\*/)?)
   |(?P<str>[eEnN]?'(?:[^']++|'')*+'?)
   |(?P<qid>"(?:[^"]++|"")*+"?|`[^`]*+`?)
   |(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w])|0[xX][0-9a-fA-F]+)
   |(?P<word>[A-Za-z_@#$\d][\w@#$]*+)
   |(?P<ph><(?:ID|UUID|TS|HOST|POD|IP|NUM)>)
   |(?P<op><>|!=|>=|<=|::|\|\||->>|->|=>|[=<>+\-*/%,;.\[\]!^&|~?:{}])
   |(?P<lp>\()
   |(?P<rp>\))
   |(?P<other>[\s\S])
    """,
    re.X,
)
# Dynatrace Query Language: "fetch logs | filter a == "x" and b > 5 | sort timestamp desc | limit 100"
_DQL_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
   |(?P<comment>//[^\n]*+|/\*(?:[^*]++|\*(?!/))*+(?:\*/)?)
   |(?P<str>"(?:[^"\\]++|\\[\s\S])*+"?|'(?:[^'\\]++|\\[\s\S])*+'?)
   |(?P<qid>`[^`]*+`?)
   |(?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])|0[xX][0-9a-fA-F]+)
   |(?P<word>[A-Za-z_@$\d][\w@$]*+(?:\.[A-Za-z_@$\d][\w@$]*+)*+)
   |(?P<ph><(?:ID|UUID|TS|HOST|POD|IP|NUM)>)
   |(?P<op>==|!=|>=|<=|->|[=<>+\-*/%,;.!^&|~?:@])
   |(?P<lp>[(\[{])
   |(?P<rp>[)\]}])
   |(?P<other>[\s\S])
    """,
    re.X,
)
_SQL_KEYWORDS = frozenset(
    """
    select from where and or not in is null like ilike rlike regexp similar between as on join left
    right inner outer full cross natural using group by order having limit offset fetch first next
    rows row only desc asc nulls last distinct all any some case when then else end union intersect
    except exists interval with recursive over partition window true false cast top qualify match
    against escape collate filter within lateral unnest values day hour minute second month year
    week millisecond microsecond current_date current_time current_timestamp now
    """.split()
)
_DQL_KEYWORDS = frozenset({"and", "or", "not", "xor"})
_DQL_FILTER_COMMANDS = frozenset({"filter", "filterout"})
_DQL_START_RE = re.compile(
    r"\s*(?:fetch|timeseries|data|load|describe|search|smartscapeNodes|smartscapeEdges)\b"
    r"|[^|]*\|\s*(?:filter|filterOut|fields\w*|sort|limit|summarize|dedup|lookup|parse|append|join"
    r"|expand|makeTimeseries|search)\b"
)
_SQL_CLAUSE_END = frozenset(
    {"GROUP", "ORDER", "HAVING", "LIMIT", "OFFSET", "FETCH", "UNION", "INTERSECT", "EXCEPT", "WINDOW", "QUALIFY"}
)
_BOOL_CONTEXT = frozenset({"WHERE", "AND", "OR", "NOT", "XOR", "HAVING", "ON", "WHEN"})
_SQL_START_RE = re.compile(r"\s*\(*\s*(?:select|with)\b", re.I)
_CLOSERS = {"(": ")", "[": "]", "{": "}"}
_CLOSED_STRING_RE = {  # a string literal with its closing quote (SQL doubles quotes, DQL escapes them)
    "'": re.compile(r"'(?:[^'\\]++|''|\\[\s\S])*+'"),
    '"': re.compile(r'"(?:[^"\\]++|\\[\s\S])*+"'),
}


class _Dialect:
    """What differs between SQL and DQL for the token-stream engine."""

    __slots__ = ("name", "token_re", "keywords", "upper_functions", "tight_ops")

    def __init__(self, name: str, token_re: re.Pattern[str], keywords: frozenset[str], upper_functions: bool,
                 tight_ops: tuple[str, ...]) -> None:
        self.name = name
        self.token_re = token_re
        self.keywords = keywords  # lower-cased; written upper-case
        self.upper_functions = upper_functions  # SQL function names are case-insensitive, DQL's are not
        self.tight_ops = tight_ops  # no space on either side


_SQL = _Dialect("sql", _SQL_TOKEN_RE, _SQL_KEYWORDS, True, (".", "::"))
_DQL = _Dialect("dql", _DQL_TOKEN_RE, _DQL_KEYWORDS, False, (".", ":", "@"))


class _ExprFrame:
    __slots__ = ("opener", "elements", "boolean", "function", "context")

    def __init__(self, opener: str, boolean: bool, function: bool, context: str = CTX_NONE) -> None:
        self.opener = opener  # "(", "[" or "{" ("" for the whole text)
        # (kind, text): kind in kw | ident | lit | op | group | qid
        self.elements: list[tuple[str, str]] = []
        self.boolean = boolean  # a parenthesised condition: sort its AND/OR chains
        self.function = function  # the arguments of a function call, an IN list, ...
        self.context = context  # the field context of the last field named before a literal


def _string_literal(tok: str, context: str) -> str:
    """A quoted string literal (SQL '...', DQL "..."): its placeholder, or kept with literals masked inside."""
    prefix = ""
    body = tok
    if body[0] in "eEnN":  # SQL E'...' / N'...'
        prefix, body = body[0].upper(), body[1:]
    quote = body[0]
    closed = _CLOSED_STRING_RE[quote].fullmatch(body) is not None
    inner = body[1:-1] if closed else body[1:]
    plain = inner.replace("''", "'") if quote == "'" else _BACKSLASH_RE.sub(r"\1", inner)
    kind = _classify(plain, context) if not _WILDCARD_RE.search(plain) and "%" not in plain else None
    if kind is not None:
        return kind
    return prefix + quote + _mask_inside(inner) + quote


def _expr_join(elements: list[tuple[str, str]], dialect: _Dialect) -> str:
    out: list[str] = []
    prev: tuple[str, str] | None = None
    tight = dialect.tight_ops
    for kind, text in elements:
        if prev is None:
            out.append(text)
        else:
            pkind, ptext = prev
            no_space = (
                text in (",", ";", "[", "]")
                or (kind == "op" and text in tight)
                or (pkind == "op" and ptext in tight + ("[",))
                or (kind == "group" and text[:1] == "(" and pkind in ("ident", "qid"))  # f(x)
            )
            out.append(text if no_space else " " + text)
        prev = (kind, text)
    return "".join(out)


def _expr_sorted_bool(elements: list[tuple[str, str]], dialect: _Dialect) -> str:
    """Split a condition at top-level AND/OR (not BETWEEN's AND, not inside CASE); sort like Lucene."""
    chains: list[list[str]] = [[]]
    current: list[tuple[str, str]] = []
    pending_between = 0
    case_depth = 0

    def flush() -> None:
        if current:
            chains[-1].append(_expr_join(current, dialect))
            current.clear()

    for kind, text in elements:
        if kind == "kw":
            if text == "CASE":
                case_depth += 1
            elif text == "END" and case_depth:
                case_depth -= 1
            elif text == "BETWEEN" and not case_depth:
                pending_between += 1
            elif text in ("AND", "OR") and not case_depth:
                if text == "AND" and pending_between:
                    pending_between -= 1
                else:
                    flush()
                    if text == "OR" and chains[-1]:
                        chains.append([])
                    continue
        current.append((kind, text))
    flush()
    chains = [chain for chain in chains if chain]
    return _join_chains(chains) if chains else ""


def _sql_render(frame: _ExprFrame) -> str:
    """SQL: the WHERE clause's predicates sorted; a parenthesised condition sorted."""
    elements = frame.elements
    where = next((i for i, element in enumerate(elements) if element == ("kw", "WHERE")), None)
    if where is None:
        is_query = bool(elements) and elements[0] in (("kw", "SELECT"), ("kw", "WITH"))
        if frame.boolean and not frame.function and not is_query:
            return _expr_sorted_bool(elements, _SQL)
        return _expr_join(elements, _SQL)
    end = len(elements)
    for j in range(where + 1, len(elements)):
        kind, text = elements[j]
        if (kind == "kw" and text in _SQL_CLAUSE_END) or text == ";":
            end = j
            break
    head = _expr_join(elements[: where + 1], _SQL)
    cond = _expr_sorted_bool(elements[where + 1 : end], _SQL)
    tail = _expr_join(elements[end:], _SQL)
    return " ".join(part for part in (head, cond, tail) if part)


def _dql_render(frame: _ExprFrame) -> str:
    """DQL: a pipeline keeps its order; the condition of each filter/filterOut stage is sorted."""
    stages: list[list[tuple[str, str]]] = [[]]
    for element in frame.elements:
        if element == ("op", "|"):
            stages.append([])
        else:
            stages[-1].append(element)
    if len(stages) == 1 and frame.boolean and not frame.function:
        return _expr_sorted_bool(stages[0], _DQL)
    out = []
    for stage in stages:
        if stage and stage[0][0] == "ident" and stage[0][1].lower() in _DQL_FILTER_COMMANDS:
            cond = _expr_sorted_bool(stage[1:], _DQL)
            out.append(stage[0][1] + (" " + cond if cond else ""))
        else:
            out.append(_expr_join(stage, _DQL))
    return " | ".join(out)


def _expr_canonical(text: str, dialect: _Dialect) -> str:
    render = _sql_render if dialect is _SQL else _dql_render
    stack = [_ExprFrame("", boolean=False, function=False)]
    for m in dialect.token_re.finditer(text):
        kind = m.lastgroup
        tok = m.group(0)
        if kind in ("ws", "comment"):
            continue
        frame = stack[-1]
        if kind == "lp":
            prev = frame.elements[-1] if frame.elements else None
            opens_condition = prev is not None and (
                (prev[0] == "kw" and prev[1] in _BOOL_CONTEXT)
                or (dialect is _DQL and prev[0] == "ident" and prev[1].lower() in _DQL_FILTER_COMMANDS)
            )
            boolean = opens_condition or (prev is None and frame.boolean)
            function = not opens_condition and prev is not None and prev[0] in ("ident", "qid", "kw")
            if dialect.upper_functions and function and prev is not None and prev[0] == "ident":
                frame.elements[-1] = ("ident", prev[1].upper())
            stack.append(_ExprFrame(tok, boolean=boolean, function=function, context=frame.context))
        elif kind == "rp":
            if len(stack) > 1:  # a stray closer is dropped
                _expr_close(stack, render)
        elif kind == "word":
            low = tok.lower()
            if low in dialect.keywords:
                frame.elements.append(("kw", tok.upper()))
            elif tok[0].isdigit():
                frame.elements.append(("lit", _mask_value(tok, False, frame.context)))
            else:
                frame.elements.append(("ident", tok))
                frame.context = _field_context(low)
        elif kind == "num":
            frame.elements.append(("lit", _classify(tok, frame.context) or P_NUM))
        elif kind == "ph":
            frame.elements.append(("lit", tok))
        elif kind == "str":
            frame.elements.append(("lit", _string_literal(tok, frame.context)))
        elif kind == "qid":
            frame.elements.append(("qid", tok))
            frame.context = _field_context(tok)
        else:
            frame.elements.append(("op", tok))
    while len(stack) > 1:  # unclosed groups are closed at the end
        _expr_close(stack, render)
    return render(stack[0])


def _expr_close(stack: list[_ExprFrame], render) -> None:
    frame = stack.pop()
    elements = frame.elements
    parent = stack[-1].elements
    if frame.opener == "(" and len(elements) == 1 and elements[0][0] == "group" and elements[0][1][:1] == "(":
        parent.append(elements[0])  # ((x)) is (x); keeps deep nesting linear
        return
    if parent and parent[-1] == ("kw", "IN") and elements and all(
        kind == "lit" if i % 2 == 0 else (kind, text) == ("op", ",") for i, (kind, text) in enumerate(elements)
    ):
        # IN (<ID>, <ID>, <ID>) is IN (<ID>); IN ('WARN', 'ERROR') is IN ('ERROR', 'WARN')
        values = sorted({text for kind, text in elements if kind == "lit"})
        parent.append(("group", "(" + ", ".join(values) + ")"))
        return
    parent.append(("group", frame.opener + render(frame) + _CLOSERS[frame.opener]))


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------
def canonical_query(text: str, language: str | None) -> str:
    """The canonical form of a query text: literals masked, terms ordered.

    Parameters
    ----------
    text : str
        The raw query text as the user ran it (``query.text`` of a
        ``query_run`` payload). Anything else (``None``, NaN, a number) is
        treated as its string form, ``None``/NaN as the empty text.
    language : str or None
        ``lucene``, ``dql`` or ``sql`` (``query.language``); ``None`` or an
        unknown value guesses: SQL when the text starts with SELECT/WITH,
        else Lucene/DQL.

    Returns
    -------
    str
        The canonical form (see the module docstring for the rules). Texts
        that differ only in literal values, term order, whitespace or
        keyword case give the same string. Never raises.

    Examples
    --------
    >>> canonical_query('service:cart  AND status:503 and host:ip-10-0-3-17', 'lucene')
    'host:<HOST> AND service:cart AND status:<NUM>'
    >>> canonical_query("select * from logs where b = 'x' and a > 10", 'sql')
    "SELECT * FROM logs WHERE a > <NUM> AND b = 'x'"
    """
    if text is None or (isinstance(text, float) and text != text):
        return ""
    if not isinstance(text, str):
        text = str(text)
    lang = language.lower() if isinstance(language, str) else None
    if lang not in ("lucene", "dql", "sql"):
        lang = "sql" if _SQL_START_RE.match(text) else "dql" if _DQL_START_RE.match(text) else "lucene"
    elif lang == "dql" and not _DQL_START_RE.match(text):
        lang = "lucene"  # a KQL-style "field:value and ..." text: the Lucene rules apply
    try:
        if lang == "sql":
            return _expr_canonical(text, _SQL)
        if lang == "dql":
            return _expr_canonical(text, _DQL)
        return _lucene_canonical(text)
    except Exception:  # pragma: no cover - a safety net; every known input is handled above
        log.warning(
            "could not canonicalize a %s query of %d characters; using its whitespace-normalised text",
            lang, len(text), exc_info=True,
        )
        return _WS_RE.sub(" ", text).strip()


def query_item_id(canonical: str) -> str:
    """The stable id of a canonical query: ``'q_'`` + 16 hex digits of its sha1.

    Parameters
    ----------
    canonical : str
        A canonical form from :func:`canonical_query`.

    Returns
    -------
    str
        ``q_`` followed by the first 16 hex digits of ``sha1(canonical)``
        (UTF-8); the same query gets the same id every day and every run.

    Examples
    --------
    >>> query_item_id('level:warn')
    'q_eb7c7d0358fe27e9'
    """
    return "q_" + hashlib.sha1(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def link_near_duplicates(canonicals: pd.DataFrame, threshold: float) -> dict[tuple[int, str], str]:
    """Link near-duplicate canonical queries of one account to one representative.

    Two canonical forms of the same account whose rapidfuzz ``ratio`` is at
    least ``threshold`` (0-100) are linked; linked forms (transitively, the
    connected components) share the representative that sorts first, so an
    ``item_id`` changes only when a new near-duplicate that sorts before the
    others appears.

    ``processor=None`` on purpose: canonical forms are already normalised,
    and rapidfuzz's default processor would strip the operators and
    placeholders (``>=``, ``<NUM>``) that tell queries apart.

    Parameters
    ----------
    canonicals : pandas.DataFrame
        Distinct ``account_id, canonical`` pairs.
    threshold : float
        Minimum ``fuzz.ratio``.

    Returns
    -------
    dict
        ``(account_id, canonical) -> representative`` for every linked form
        whose representative differs from itself.
    """
    from rapidfuzz import fuzz, process
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    links: dict[tuple[int, str], str] = {}
    for account_id, group in canonicals.groupby(S.ACCOUNT_ID, sort=True):
        forms = sorted(set(group[S.CANONICAL]))
        if len(forms) < 2:
            continue
        scores = process.cdist(
            forms, forms, scorer=fuzz.ratio, processor=None, score_cutoff=threshold, dtype=np.uint8, workers=1
        )
        np.fill_diagonal(scores, 0)
        if not scores.any():
            continue
        _, comp = connected_components(csr_matrix(scores > 0), directed=False)
        first: dict[int, str] = {}
        for form, c in zip(forms, comp):  # forms are sorted: the first of a component represents it
            first.setdefault(int(c), form)
        for form, c in zip(forms, comp):
            if first[int(c)] != form:
                links[(int(account_id), form)] = first[int(c)]
    return links


def normalize_items(items: pd.DataFrame, link_threshold: float | None = None) -> pd.DataFrame:
    """Give every session item its identity and a label a person can click.

    Implements the contract rule that query texts differing only in literal
    values or term order are the same query, and the Output columns
    ``item_id`` / ``item_label``.

    Parameters
    ----------
    items : pandas.DataFrame
        The ``items`` frame of the extraction (``docs/frames.md``); uses
        ``account_id``, ``ts``, ``event_id``, ``item_type``, ``item_key``
        (dashboard id or raw query text), ``item_title`` and
        ``query_language``. Not modified.
    link_threshold : float, optional
        When given, near-duplicate canonical forms of one account (rapidfuzz
        ``ratio`` >= this) share one ``item_id`` (:func:`link_near_duplicates`).

    Returns
    -------
    pandas.DataFrame
        A new frame: every input column and row, in the input order, plus

        * ``item_id``: dashboards: ``item_key``; queries:
          :func:`query_item_id` of the canonical form. Null for a row
          without a key (a null or blank dashboard id or query text): such a
          row is not an item.
        * ``canonical``: the canonical query (null for dashboards).
        * ``item_label``: dashboards: the most recent non-blank title of
          that (account_id, item_id) in the frame, else the id; queries: the
          raw text used most often for that (account_id, item_id) (ties: the
          most recently used, then the smallest text), so a runnable text.

    Notes
    -----
    ``canonical_query`` runs once per distinct (text, language); the rest is
    vectorised.
    """
    out = items.copy()
    n = len(out)
    item_type = out[S.ITEM_TYPE].to_numpy(dtype=object)
    keys = out[S.ITEM_KEY].to_numpy(dtype=object)
    has_key = np.fromiter((isinstance(k, str) and not k.isspace() and k != "" for k in keys), dtype=bool, count=n)
    is_query = (item_type == S.ITEM_QUERY) & has_key
    is_dash = (item_type == S.ITEM_DASHBOARD) & has_key

    item_id = np.full(n, None, dtype=object)
    canonical = np.full(n, None, dtype=object)
    item_id[is_dash] = keys[is_dash]
    if is_query.any():
        texts = keys[is_query]
        if S.QUERY_LANGUAGE in out.columns:
            langs = out[S.QUERY_LANGUAGE].to_numpy(dtype=object)[is_query]
            langs = np.array([lang if isinstance(lang, str) else "" for lang in langs], dtype=object)
        else:
            langs = np.full(len(texts), "", dtype=object)
        # canonical_query once per distinct (language, text)
        codes, uniques = pd.factorize(langs + "\x00" + texts)
        first = np.zeros(len(uniques), dtype=np.int64)
        first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
        canon_u = np.array([canonical_query(texts[i], langs[i] or None) for i in first], dtype=object)
        ids_by_canon = {c: query_item_id(c) for c in set(canon_u.tolist())}
        ids_u = np.array([ids_by_canon[c] for c in canon_u], dtype=object)
        canonical[is_query] = canon_u[codes]
        item_id[is_query] = ids_u[codes]
        if link_threshold is not None:
            accounts = out[S.ACCOUNT_ID].to_numpy()[is_query]
            pairs = pd.DataFrame({S.ACCOUNT_ID: accounts, S.CANONICAL: canonical[is_query]}).drop_duplicates()
            links = link_near_duplicates(pairs, link_threshold)
            if links:
                linked = np.array(
                    [query_item_id(links[(int(a), c)]) if (int(a), c) in links else i
                     for a, c, i in zip(accounts, canonical[is_query], item_id[is_query])],
                    dtype=object,
                )
                item_id[is_query] = linked
                log.info("normalize: %d near-duplicate canonical queries linked", len(links))
        log.debug(
            "normalize: %d query rows, %d distinct texts, %d distinct queries",
            int(is_query.sum()), len(uniques), len(ids_by_canon),
        )
    out[S.ITEM_ID] = item_id
    out[S.CANONICAL] = canonical
    out[S.ITEM_LABEL] = _labels(out, is_dash, is_query)
    return out


def _labels(out: pd.DataFrame, is_dash: np.ndarray, is_query: np.ndarray) -> np.ndarray:
    """``item_label`` per row (see :func:`normalize_items`)."""
    labels = np.full(len(out), None, dtype=object)
    key = [S.ACCOUNT_ID, S.ITEM_ID]
    if is_dash.any():
        d = out.loc[is_dash, [S.ACCOUNT_ID, S.ITEM_ID, S.ITEM_TITLE, S.TS, S.EVENT_ID]]
        titles = d[S.ITEM_TITLE].to_numpy(dtype=object)
        titled = np.fromiter((isinstance(t, str) and t.strip() != "" for t in titles), dtype=bool, count=len(d))
        latest = (
            d[titled]
            .sort_values([S.TS, S.EVENT_ID], kind="mergesort")
            .drop_duplicates(key, keep="last")[key + [S.ITEM_TITLE]]
            .rename(columns={S.ITEM_TITLE: "_label"})
        )
        got = d[key].merge(latest, on=key, how="left")["_label"].to_numpy(dtype=object)
        missing = pd.isna(got)
        got[missing] = d[S.ITEM_ID].to_numpy(dtype=object)[missing]
        labels[is_dash] = got
    if is_query.any():
        q = out.loc[is_query, [S.ACCOUNT_ID, S.ITEM_ID, S.ITEM_KEY, S.TS]]
        usage = q.groupby(key + [S.ITEM_KEY], sort=False)[S.TS].agg(["size", "max"]).reset_index()
        usage["_neg_size"] = -usage["size"]
        # the most used text, then the most recently used, then the smallest
        best = (
            usage.sort_values(["_neg_size", "max", S.ITEM_KEY], ascending=[True, False, True], kind="mergesort")
            .drop_duplicates(key, keep="first")[key + [S.ITEM_KEY]]
            .rename(columns={S.ITEM_KEY: "_label"})
        )
        labels[is_query] = q[key].merge(best, on=key, how="left")["_label"].to_numpy(dtype=object)
    return labels
