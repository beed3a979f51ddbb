"""The SQL and DQL-pipeline canonicalizer: one token-stream engine, two dialects.

Literals are masked, keywords (and SQL function names) upper-cased, and the
conditions of every boolean clause (SQL ``WHERE``, ``JOIN ... ON``,
``HAVING``, ``QUALIFY``; DQL ``filter``/``filterOut``; every parenthesised
condition) are split at top-level AND/OR and sorted. See
:mod:`alertrec.stages.normalize`.
"""

from __future__ import annotations

import logging
import re

from alertrec.stages.normalize.boolean import _join_chains
from alertrec.stages.normalize.literals import (
    _BACKSLASH_RE,
    _WILDCARD_RE,
    CTX_NONE,
    P_NUM,
    _classify,
    _field_context,
    _mask_inside,
    _mask_value,
)

log = logging.getLogger(__name__)

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
    [
        "select",
        "from",
        "where",
        "and",
        "or",
        "not",
        "in",
        "is",
        "null",
        "like",
        "ilike",
        "rlike",
        "regexp",
        "similar",
        "between",
        "as",
        "on",
        "join",
        "left",
        "right",
        "inner",
        "outer",
        "full",
        "cross",
        "natural",
        "using",
        "group",
        "by",
        "order",
        "having",
        "limit",
        "offset",
        "fetch",
        "first",
        "next",
        "rows",
        "row",
        "only",
        "desc",
        "asc",
        "nulls",
        "last",
        "distinct",
        "all",
        "any",
        "some",
        "case",
        "when",
        "then",
        "else",
        "end",
        "union",
        "intersect",
        "except",
        "exists",
        "interval",
        "with",
        "recursive",
        "over",
        "partition",
        "window",
        "true",
        "false",
        "cast",
        "top",
        "qualify",
        "match",
        "against",
        "escape",
        "collate",
        "filter",
        "within",
        "lateral",
        "unnest",
        "values",
        "day",
        "hour",
        "minute",
        "second",
        "month",
        "year",
        "week",
        "millisecond",
        "microsecond",
        "current_date",
        "current_time",
        "current_timestamp",
        "now",
    ]
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
_SQL_CONDITION_STARTS = frozenset({"WHERE", "ON", "HAVING", "QUALIFY", "WHEN"})
_SQL_JOIN_WORDS = frozenset({"JOIN", "INNER", "CROSS", "NATURAL", "FULL", "OUTER", "LEFT", "RIGHT"})
_SQL_WHEN_END = frozenset({"THEN", "ELSE", "END", "WHEN"})
_BOOL_CONTEXT = frozenset({"WHERE", "AND", "OR", "NOT", "XOR", "HAVING", "ON", "WHEN"})
_SQL_START_RE = re.compile(r"\s*\(*\s*(?:select|with)\b", re.I)
_CLOSERS = {"(": ")", "[": "]", "{": "}"}
_CLOSED_STRING_RE = {  # a string literal with its closing quote (SQL doubles quotes, DQL escapes them)
    "'": re.compile(r"'(?:[^'\\]++|''|\\[\s\S])*+'"),
    '"': re.compile(r'"(?:[^"\\]++|\\[\s\S])*+"'),
}


class _Dialect:
    """What differs between SQL and DQL for the token-stream engine."""

    __slots__ = ("keywords", "name", "tight_ops", "token_re", "upper_functions")

    def __init__(
        self,
        name: str,
        token_re: re.Pattern[str],
        keywords: frozenset[str],
        upper_functions: bool,
        tight_ops: tuple[str, ...],
    ) -> None:
        self.name = name
        self.token_re = token_re
        self.keywords = keywords  # lower-cased; written upper-case
        self.upper_functions = upper_functions  # SQL function names are case-insensitive, DQL's are not
        self.tight_ops = tight_ops  # no space on either side


_SQL = _Dialect("sql", _SQL_TOKEN_RE, _SQL_KEYWORDS, True, (".", "::"))
_DQL = _Dialect("dql", _DQL_TOKEN_RE, _DQL_KEYWORDS, False, (".", ":", "@"))


class _ExprFrame:
    __slots__ = ("boolean", "context", "elements", "function", "opener")

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
                or (pkind == "op" and ptext in (*tight, "["))
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


def _sql_condition_end(elements: list[tuple[str, str]], start: int, clause: str) -> int:
    """Where the condition of ``clause`` (WHERE, ON, HAVING, QUALIFY, WHEN) that starts at ``start`` ends.

    Every condition ends at a clause keyword (GROUP, ORDER, HAVING, ...) or a
    ``;``; a ``JOIN ... ON`` condition also at the next join (``JOIN``,
    ``LEFT JOIN``, ...), ``WHERE`` or a top-level ``,``; a ``WHEN`` condition at
    its ``THEN`` (a nested ``CASE ... END`` is skipped).
    """
    case_depth = 0
    n = len(elements)
    for j in range(start, n):
        kind, text = elements[j]
        if kind == "op":
            if text == ";" or (text == "," and clause == "ON" and not case_depth):
                return j
            continue
        if kind != "kw":
            continue
        if text == "CASE":
            case_depth += 1
        elif text == "END" and case_depth:
            case_depth -= 1
        elif (
            (clause == "WHEN" and not case_depth and text in _SQL_WHEN_END)
            or text in _SQL_CLAUSE_END
            or (
                clause == "ON"
                and not case_depth
                and (
                    text in ("WHERE", "ON")
                    or (
                        text in _SQL_JOIN_WORDS
                        and (text not in ("LEFT", "RIGHT") or (j + 1 < n and elements[j + 1][0] == "kw"))
                    )
                )
            )
        ):
            return j
    return n


def _sql_render(frame: _ExprFrame) -> str:
    """SQL: the conditions of WHERE, JOIN ... ON, HAVING, QUALIFY and CASE WHEN sorted, and a
    parenthesised condition sorted.

    Everything else keeps its order. A frame without such a clause that is a
    parenthesised condition (``WHERE (b OR a)``, ``ON (x AND y)``) is sorted
    whole.
    """
    elements = frame.elements
    clauses = [i for i, (kind, text) in enumerate(elements) if kind == "kw" and text in _SQL_CONDITION_STARTS]
    if not any(elements[i][1] != "WHEN" for i in clauses):
        is_query = bool(elements) and elements[0] in (("kw", "SELECT"), ("kw", "WITH"))
        if frame.boolean and not frame.function and not is_query:
            return _expr_sorted_bool(elements, _SQL)
        if not clauses:
            return _expr_join(elements, _SQL)
    # chunks: the text up to and including a clause keyword, then its sorted condition, ...
    chunks: list[tuple[str, str | None]] = []
    plain_start = 0
    i = 0
    n = len(elements)
    while i < n:
        kind, text = elements[i]
        if kind == "kw" and text in _SQL_CONDITION_STARTS:
            end = _sql_condition_end(elements, i + 1, text)
            chunks.append((_expr_join(elements[plain_start : i + 1], _SQL), None))
            chunks.append((_expr_sorted_bool(elements[i + 1 : end], _SQL), text))
            i = plain_start = end
            continue
        i += 1
    chunks.append((_expr_join(elements[plain_start:], _SQL), None))
    out: list[str] = []
    after = None  # the clause whose condition the previous chunk is
    for chunk, clause in chunks:
        if not chunk:
            after = clause
            continue
        if out:
            # no space before a ',' or a ';' (as between any two tokens), but "WHERE ... ;" keeps
            # the space it always had, so that the ids of such texts do not change
            tight = chunk[0] == "," or (chunk[0] == ";" and after != "WHERE")
            out.append(chunk if tight else " " + chunk)
        else:
            out.append(chunk)
        after = clause
    return "".join(out)


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
    if (
        parent
        and parent[-1] == ("kw", "IN")
        and elements
        and all(kind == "lit" if i % 2 == 0 else (kind, text) == ("op", ",") for i, (kind, text) in enumerate(elements))
    ):
        # IN (<ID>, <ID>, <ID>) is IN (<ID>); IN ('WARN', 'ERROR') is IN ('ERROR', 'WARN')
        values = sorted({text for kind, text in elements if kind == "lit"})
        parent.append(("group", "(" + ", ".join(values) + ")"))
        return
    parent.append(("group", frame.opener + render(frame) + _CLOSERS[frame.opener]))
