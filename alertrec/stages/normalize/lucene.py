"""The Lucene (and KQL-style DQL) canonicalizer: terms masked, AND/OR chains sorted at every level.

``AND``/``&&`` and whitespace join terms (implicit AND); AND binds tighter than
``OR``/``||``. Within every level (the top, each ``( ... )`` group, each
``field:( ... )`` group) the AND-joined terms are sorted and de-duplicated,
the OR-joined alternatives too. See :mod:`alertrec.stages.normalize`.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import cast

from alertrec.stages.normalize.boolean import _frame_chains, _join_chains, _unique_chains
from alertrec.stages.normalize.literals import (
    _BACKSLASH_RE,
    _WS_RE,
    CTX_NONE,
    P_IP,
    P_TS,
    _classify,
    _field_context,
    _mask_inside,
    _mask_value,
)

log = logging.getLogger(__name__)

# Coarse tokens: a "run" is glued text (no whitespace outside quotes, no parentheses or brackets):
# one term such as field:value, field:"a phrase", -field:>=5. The whitespace before a token is
# part of its match (group 1), so that a text costs one match per token.
_LQ_COARSE_RE = re.compile(
    r"""
    (\s++)?
    (?:
    (?P<lp>\()
   |(?P<rp>\))
   |(?P<lb>[\[{])
   |(?P<rb>[\]}])
   |(?P<and>&&)
   |(?P<or>\|\|)
   |(?P<run>(?:"(?:[^"\\]++|\\[\s\S])*+"?|\\[\s\S]|[^\s"()\[\]{}\\&|]++|&(?!&)|\|(?!\|))++)
   |(?P<other>\S)
    )
    """,
    re.X,
)
# Inside a range [a TO b] / {a TO b}: only whitespace (between runs) and brackets (nesting depth)
# matter, everything else is glued into the runs; brackets come as runs of brackets.
_LQ_RANGE_RE = re.compile(
    r"""
    (\s++)?
    (?:
    (?P<lb>[\[{]++)
   |(?P<rb>[\]}]++)
   |(?P<glued>(?:"(?:[^"\\]++|\\[\s\S])*+"?|\\[\s\S]|[^\s"\[\]{}\\]++|\\)++)
    )
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
    pos = 0
    match = _LQ_COARSE_RE.match
    bool_words = _BOOL_WORDS
    while True:
        m = match(text, pos)
        if m is None:  # the end, or only whitespace left
            break
        pos = m.end()
        kind = m.lastgroup
        tok = m.group(kind)  # type: ignore[arg-type]  # never None: every alternative is a named group
        if m.group(1) is not None:
            spaced = True
        if kind == "run" or kind == "other":
            word = bool_words.get(tok.lower()) if len(tok) <= 3 else None
            if word is not None:
                atoms.append(("op", word))
            else:
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
        elif kind == "lb":
            pos = _lucene_range(text, pos, tok, not spaced, atoms)
        elif kind == "rb":  # a stray closing bracket is just a character
            _add_run(atoms, tok, not spaced)
        else:  # && ||
            atoms.append(("op", bool_words[tok]))
        spaced = False
    return atoms


def _lucene_range(text: str, pos: int, opener: str, glued: bool, atoms: list[tuple[str, object]]) -> int:
    """Scan the range that ``opener`` (at ``pos - 1``) opens; add it as a run; return where the text goes on.

    The runs of the range are split by whitespace; brackets inside nest
    (``[`` and ``{`` open, ``]`` and ``}`` close). The closing bracket at
    depth 0 ends the range; an unclosed range is closed at the end of the text.
    """
    runs: list[list[str]] = []
    depth = 0
    spaced = True
    match = _LQ_RANGE_RE.match
    while True:
        m = match(text, pos)
        if m is None:  # an unclosed range is closed at the end
            _add_run(atoms, (opener, ["".join(r) for r in runs], "]" if opener == "[" else "}"), glued)
            return len(text)
        if m.group(1) is not None:
            spaced = True
        kind = m.lastgroup
        tok = m.group(kind)  # type: ignore[arg-type]  # never None: every alternative is a named group
        if kind == "rb":
            if len(tok) > depth:  # the closer is tok[depth]
                if depth:
                    if spaced or not runs:
                        runs.append([tok[:depth]])
                    else:
                        runs[-1].append(tok[:depth])
                _add_run(atoms, (opener, ["".join(r) for r in runs], tok[depth]), glued)
                return m.start(kind) + depth + 1
            depth -= len(tok)
        elif kind == "lb":
            depth += len(tok)
        if spaced or not runs:
            runs.append([tok])
        else:
            runs[-1].append(tok)
        spaced = False
        pos = m.end()


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
            opener, runs, closer = cast("tuple[str, list[str], str]", text)
            out.append(_render_range(opener, runs, closer, context))
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
        if (
            stripped != first
            and (not stripped or stripped[0].isalpha() or stripped[0] in "_@*")
            and (stripped or len(pieces) > 1)
        ):
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
        # DQL: bytes >= 5
        term = f"{field} {op} {value}".rstrip() if field and pieces[sep][0] == "cmp" else f"{field}{op}{value}"
    return ("NOT " + term) if negate and term else term


class _Frame:
    __slots__ = ("context", "items", "prefix")

    def __init__(self, prefix: str, context: str = CTX_NONE) -> None:
        self.prefix = prefix
        self.context = context  # the field context of a field:( ... ) group
        # ("op", "AND"|"OR"|"NOT") | ("term", str) | ("terms", list[str]) (a merged pure-AND group)
        self.items: list[tuple[str, object]] = []


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
        terms = chains[0] if len(chains[0]) == 1 else sorted(set(chains[0]))
        if len(terms) == 1:
            parent.items.append(("term", terms[0]))
        else:
            parent.items.append(("terms", terms))
        return
    if frame.prefix and len(chains) == 1 and len(chains[0]) == 1 and " " not in chains[0][0]:
        parent.items.append(("term", frame.prefix + chains[0][0]))  # status:(500 OR 503) is status:<NUM>
        return
    parent.items.append(("term", frame.prefix + "(" + _join_chains(chains) + ")"))
