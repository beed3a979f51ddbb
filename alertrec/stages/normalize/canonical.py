"""Dispatch by language to a canonicalizer, and the stable id of a canonical form."""

from __future__ import annotations

import hashlib
import logging

from alertrec.stages.normalize.expr import _DQL, _DQL_START_RE, _SQL, _SQL_START_RE, _expr_canonical
from alertrec.stages.normalize.literals import _WS_RE
from alertrec.stages.normalize.lucene import _lucene_canonical

log = logging.getLogger(__name__)

__all__ = ["canonical_query", "query_item_id", "query_text_item_id"]


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
            lang,
            len(text),
            exc_info=True,
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


def query_text_item_id(text: str, language: str | None) -> str:
    """The ``item_id`` a raw query text gets, without the registry: ``query_item_id(canonical_query(text, language))``.

    Parameters
    ----------
    text : str
        A raw query text, as in ``query.text`` of a ``query_run`` payload.
    language : str or None
        ``lucene``, ``dql`` or ``sql`` (``None`` guesses; see :func:`canonical_query`).

    Returns
    -------
    str
        ``q_`` + 16 hex digits. A query whose canonical form was linked to a
        near-duplicate that was registered earlier is published under that
        older id instead; :meth:`alertrec.stages.normalize.registry.QueryRegistry.lookup`
        gives the published one. Never raises.

    Examples
    --------
    >>> query_text_item_id("level:warn", "lucene")
    'q_eb7c7d0358fe27e9'
    """
    return query_item_id(canonical_query(text, language))
