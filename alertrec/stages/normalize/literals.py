"""Literal classification: what a token is (uuid, timestamp, ip, number, id, pod, host) and how a value is masked.

All patterns are matched on the lower-cased token. The field a value belongs to
gives a context (:func:`_field_context`) that settles ambiguous words; see the
package docstring (:mod:`alertrec.stages.normalize`) for the rules.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re

log = logging.getLogger(__name__)

__all__ = ["P_ID", "P_UUID", "P_TS", "P_HOST", "P_POD", "P_IP", "P_NUM", "CTX_NONE", "CTX_HOST", "CTX_ID", "CTX_POD"]

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
_FQDN_RE = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?P<tld>[a-z]{2,24})\.?(?::\d{1,5})?")
_TLDS = frozenset(
    [
        "com",
        "net",
        "org",
        "io",
        "dev",
        "cloud",
        "internal",
        "local",
        "localdomain",
        "localhost",
        "lan",
        "corp",
        "intra",
        "intranet",
        "svc",
        "co",
        "uk",
        "de",
        "eu",
        "us",
    ]
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
_ID_FIELD_NAMES = frozenset(
    ["id", "ids", "uuid", "guid", "hash", "sha", "commit", "digest", "fingerprint", "version", "build"]
)

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
    # Every regex below is only tried where a cheap necessary condition holds (a "-" for the
    # uuid, pod and id shapes, a "." for FQDNs and IPv4, the lengths of uuids and MACs, ...),
    # so a plain word costs a few string operations: the answers are those of the full checks.
    n = len(t)
    has_dash = "-" in t
    has_dot = "." in t
    if _DIGIT_RE.search(t) is None:  # fast path: words (error, checkout-service, api.example.com)
        if n >= 8 and (_HEX_RE.fullmatch(t) or (has_dash and 36 <= n <= 38 and _UUID_RE.fullmatch(t))):
            return P_UUID if has_dash else P_ID
        if t == "localhost":
            return P_HOST
        if has_dash:
            m = _POD_RE.fullmatch(t)
            if m is not None and (
                context == CTX_POD
                or _K8S_SAFE_RE.fullmatch(m.group("rs") + m.group("sfx"))  # coredns-bcdfg-hjklm
                or (len(m.group("rs")) >= 6 and _HEX_ONLY_RE.fullmatch(m.group("rs")))  # auth-cfbefa-wqrcc
            ):
                return P_POD
        if has_dot:
            m = _FQDN_RE.fullmatch(t)
            if m is not None and m.group("tld") in _TLDS:
                return P_HOST
        return None
    first = t[0]
    uuid_len = has_dash and 36 <= n <= 38
    if first.isdigit() or first in "+-.{[":
        if uuid_len and _UUID_RE.fullmatch(t):
            return P_UUID
        if (
            (n >= 10 and t[4] == "-" and _ISO_TS_RE.fullmatch(t))
            or (n >= 8 and t[2] == ":" and _TIME_RE.fullmatch(t))
            or (n in (13, 16, 19) and _EPOCH_RE.fullmatch(t))
        ):
            return P_TS
        if has_dot and _IPV4_RE.fullmatch(t):
            return P_IP
        if t.isdigit() and (len(t) >= 17 or (len(t) >= 8 and first == "0")):
            return P_ID  # an id of hex digits that happen to be decimal ones (numbers have no leading 0)
        if context == CTX_ID and "." not in t and _ID_TOKEN_RE.fullmatch(t):
            return P_ID  # 123456789012, 1234e5678901: hex ids that read like numbers
        if _NUM_RE.fullmatch(t) or _NUM_UNIT_RE.fullmatch(t):
            return P_NUM
    elif uuid_len and _UUID_RE.fullmatch(t):
        return P_UUID
    if ":" in t and _IPV6_CANDIDATE_RE.fullmatch(t) and _is_ipv6(t):
        return P_IP
    if (n >= 8 and _HEX_RE.fullmatch(t)) or (n == 17 and _MAC_RE.fullmatch(t)):
        return P_ID
    if has_dash:
        m = _POD_RE.fullmatch(t)
        if m is not None:  # the hashes hold a digit, or look like hashes (hex, or no vowels)
            rs, sfx = m.group("rs"), m.group("sfx")
            if context == CTX_POD or _DIGIT_RE.search(rs + sfx) or _K8S_SAFE_RE.fullmatch(rs + sfx):
                return P_POD
        m = _POD_ONE_RE.fullmatch(t)
        if m is not None and _DIGIT_RE.search(m.group("one")) and not m.group("one").isdigit():
            return P_POD  # name-<hash5> with digits and letters
    if (has_dash or "_" in t) and n >= 10 and _ID_SHAPE_RE.fullmatch(t):
        for segment in _ID_SPLIT_RE.split(t):
            if len(segment) >= 8 and _ID_SEGMENT_RE.fullmatch(segment):
                return P_ID
    if t[:3] == "ip-" and _IP_HOST_RE.fullmatch(t):
        return P_HOST
    if has_dot:
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
