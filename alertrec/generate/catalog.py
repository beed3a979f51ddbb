"""The catalog of a world: accounts, users, dashboards, query templates, definitions and their modes.

:func:`_build_catalog` draws it from the recipes of :mod:`alertrec.generate.kinds`
as flat numpy arrays, so that the simulation can index them vectorised.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
from dataclasses import dataclass

import numpy as np

from alertrec.generate.arrays import _HEX, _json_escape, _unique_random_strings
from alertrec.generate.kinds import (
    _COLD_TITLE_FORMS,
    _KINDS,
    _LITERAL_RE,
    _MAX_STEPS,
    _MODES_PER_DEF_P,
    _OVERVIEW,
    _PANEL_TYPES,
    _POPULAR,
    _SERVICES,
    _TIME_RANGES,
    _Dash,
    _Query,
)
from alertrec.generate.spec import WorldSpec

log = logging.getLogger(__name__)


@dataclass
class _Template:
    """A query template instantiated for one service, shared by every account."""

    language: str
    index: str
    svc: str
    head: str
    tail: str
    joiner: str
    terms: tuple[str, ...]
    key: str  # canonical template text: head + joiner.join(terms) + tail
    perms: tuple[tuple[int, ...], ...]
    payload_tail: str  # '", "language": ..., "filters": [...], "index": ...}'

    def parts(self, perm: int) -> list[tuple[bool, str]]:
        """Constant (JSON-escaped) and literal parts of the text in term order ``perm``."""
        order = self.perms[perm]
        text_parts: list[tuple[bool, str]] = [(False, self.head)]
        for i, term_index in enumerate(order):
            if i:
                text_parts.append((False, self.joiner))
            pos = 0
            term = self.terms[term_index]
            for match in _LITERAL_RE.finditer(term):
                text_parts.append((False, term[pos : match.start()]))
                text_parts.append((True, match.group(1)))
                pos = match.end()
            text_parts.append((False, term[pos:]))
        text_parts.append((False, self.tail))
        merged: list[tuple[bool, str]] = []
        for is_literal, value in text_parts:
            if not is_literal:
                value = _json_escape(value)
                if not value:
                    continue
                if merged and not merged[-1][0]:
                    merged[-1] = (False, merged[-1][1] + value)
                    continue
            merged.append((is_literal, value))
        return merged


@dataclass
class _Catalog:
    """Accounts, users, items, definitions and modes, as flat arrays."""

    account_ids: np.ndarray  # int64 [A]
    user_ids: np.ndarray  # object [A*U]
    user_novice: np.ndarray  # bool [A*U]
    users_per_account: int
    # items (global index): per account, dashboards and queries
    item_account: np.ndarray  # int64 [I]
    item_is_query: np.ndarray  # bool [I]
    item_ref: np.ndarray  # int64 [I]: dashboard index or template index
    item_offset: np.ndarray  # int64 [A+1]: items of account a are item_offset[a]:item_offset[a+1]
    popular: np.ndarray  # int64 [A, P]: global item index of the popular items
    dash_ids: np.ndarray  # object [Dsh]
    dash_titles: np.ndarray  # object [Dsh]
    dash_payloads: np.ndarray  # object [Dsh, len(_TIME_RANGES)]
    templates: list[_Template]
    # definitions (regular first, then cold-start ones)
    def_account: np.ndarray  # int64 [Df]
    def_ids: np.ndarray  # object
    def_titles: np.ndarray  # object
    def_severity: np.ndarray  # object
    def_cold: np.ndarray  # bool
    def_parent: np.ndarray  # int64, -1 for regular definitions
    def_rate: np.ndarray  # float: relative firing rate
    def_nmodes: np.ndarray  # int64
    def_causes: list[list[str]]
    mode_steps: np.ndarray  # int64 [Df, 3, _MAX_STEPS], -1 padded
    mode_len: np.ndarray  # int64 [Df, 3]
    mode_weights: np.ndarray  # float [Df, n_periods, 3]


def _build_catalog(spec: WorldSpec, rng: np.random.Generator) -> _Catalog:
    n_acc, n_users = spec.accounts, spec.users_per_account
    account_ids = np.sort(rng.choice(800_000, size=n_acc, replace=False).astype(np.int64) + 100_000)
    account_ids = account_ids[rng.permutation(n_acc)]
    user_ids = "usr-" + _unique_random_strings(rng, n_acc * n_users, 10, _HEX)
    n_novice = round(n_users * spec.novice_share)
    if n_users >= 2 and 0.0 < spec.novice_share < 1.0:
        n_novice = min(max(n_novice, 1), n_users - 1)
    novice = np.zeros((n_acc, n_users), dtype=bool)
    for a in range(n_acc):
        novice[a, rng.choice(n_users, size=n_novice, replace=False)] = True

    dash_titles: list[str] = []
    dash_panels: list[str] = []
    templates: list[_Template] = []
    template_index: dict[str, int] = {}
    item_account: list[int] = []
    item_is_query: list[bool] = []
    item_ref: list[int] = []
    item_offset = [0]
    popular = np.zeros((n_acc, len(_POPULAR)), dtype=np.int64)

    n_regular = spec.definitions_per_account
    n_cold = spec.cold_start_per_account
    n_defs_total = n_acc * (n_regular + n_cold)
    def_ids = "alr-" + _unique_random_strings(rng, n_defs_total, 10, _HEX)
    def_account = np.zeros(n_defs_total, dtype=np.int64)
    def_titles = np.empty(n_defs_total, dtype=object)
    def_severity = np.empty(n_defs_total, dtype=object)
    def_cold = np.zeros(n_defs_total, dtype=bool)
    def_parent = np.full(n_defs_total, -1, dtype=np.int64)
    def_rate = np.zeros(n_defs_total)
    def_nmodes = np.zeros(n_defs_total, dtype=np.int64)
    def_causes: list[list[str]] = [[] for _ in range(n_defs_total)]
    mode_steps = np.full((n_defs_total, 3, _MAX_STEPS), -1, dtype=np.int64)
    mode_len = np.zeros((n_defs_total, 3), dtype=np.int64)
    mode_weights = np.zeros((n_defs_total, spec.n_periods, 3))
    n_dash_ids_needed = 0

    def template_for(recipe: _Query, svc: str) -> int:
        terms = tuple(t.replace("{svc}", svc) for t in recipe.terms)
        head = recipe.head.replace("{svc}", svc)
        tail = recipe.tail.replace("{svc}", svc)
        key = head + recipe.joiner.join(terms) + tail
        if key not in template_index:
            perms = tuple(itertools.islice(itertools.permutations(range(len(terms))), 6))
            filters = [{"field": "env", "value": "prod"}]
            if svc:
                filters.insert(0, {"field": "service", "value": svc})
            payload_tail = (
                '", "language": '
                + json.dumps(recipe.language)
                + '}, "filters": '
                + json.dumps(filters)
                + ', "index": '
                + json.dumps(recipe.index)
                + "}"
            )
            template_index[key] = len(templates)
            templates.append(
                _Template(
                    recipe.language, recipe.index, svc, head, tail, recipe.joiner, terms, key, perms, payload_tail
                )
            )
        return template_index[key]

    d = 0
    for a in range(n_acc):
        local: dict[tuple[bool, str], int] = {}

        def item_for(recipe: _Dash | _Query, svc: str, a: int = a, local: dict[tuple[bool, str], int] = local) -> int:
            nonlocal n_dash_ids_needed
            if isinstance(recipe, _Dash):
                key = (False, recipe.title.replace("{svc}", svc))
            else:
                key = (True, templates[template_for(recipe, svc)].key)
            if key not in local:
                local[key] = len(item_account)
                item_account.append(a)
                item_is_query.append(key[0])
                if key[0]:
                    item_ref.append(template_index[key[1]])
                else:
                    item_ref.append(len(dash_titles))
                    dash_titles.append(key[1])
                    n_panels = int(rng.integers(2, 7))
                    types = rng.choice(len(_PANEL_TYPES), size=n_panels)
                    dash_panels.append(
                        json.dumps([{"id": f"p{i + 1}", "type": _PANEL_TYPES[t]} for i, t in enumerate(types)])
                    )
                    n_dash_ids_needed += 1
            return local[key]

        for j, recipe in enumerate(_POPULAR):
            popular[a, j] = item_for(recipe, "")
        n_services = min(len(_SERVICES), max(3, math.ceil(n_regular / 2) + 1))
        services = [_SERVICES[i] for i in rng.choice(len(_SERVICES), size=n_services, replace=False)]
        combos = [(k, s) for k in range(len(_KINDS)) for s in services]
        while len(combos) < n_regular:  # many definitions: use more services
            services.append(next(s for s in _SERVICES if s not in services))
            combos = [(k, s) for k in range(len(_KINDS)) for s in services]
        chosen = [combos[i] for i in rng.choice(len(combos), size=n_regular, replace=False)]
        for svc in services:  # every service has an overview: noise for novices
            item_for(_OVERVIEW, svc)
        activity = float(rng.lognormal(0.0, 0.5))
        first_def = d
        for kind_index, svc in chosen:
            kind = _KINDS[kind_index]
            def_account[d] = a
            def_titles[d] = kind.title.replace("{svc}", svc)
            def_severity[d] = kind.severities[int(rng.integers(len(kind.severities)))]
            def_rate[d] = activity * float(rng.lognormal(0.0, 0.7))
            k = int(rng.choice(3, p=_MODES_PER_DEF_P)) + 1
            k = min(k, len(kind.modes))
            picked = rng.choice(len(kind.modes), size=k, replace=False)
            def_nmodes[d] = k
            for m, mode_index in enumerate(picked):
                mode = kind.modes[int(mode_index)]
                def_causes[d].append(mode.cause)
                mode_len[d, m] = len(mode.steps)
                for s, recipe in enumerate(mode.steps):
                    mode_steps[d, m, s] = item_for(recipe, svc)
            weights = np.sort(rng.dirichlet(np.full(k, 0.8)))[::-1]
            for p in range(spec.n_periods):
                mode_weights[d, p, :k] = np.roll(weights, p) if spec.drift else weights
            d += 1
        parents = rng.choice(n_regular, size=n_cold, replace=False) + first_def
        for parent in parents:
            parent = int(parent)
            kind_index, svc = chosen[parent - first_def]
            form = _COLD_TITLE_FORMS[int(rng.integers(len(_COLD_TITLE_FORMS)))]
            def_account[d] = a
            def_titles[d] = _KINDS[kind_index].title.replace("{svc}", form.replace("{svc}", svc))
            def_severity[d] = def_severity[parent]
            def_cold[d] = True
            def_parent[d] = parent
            def_nmodes[d] = def_nmodes[parent]
            def_causes[d] = list(def_causes[parent])
            mode_steps[d] = mode_steps[parent]
            mode_len[d] = mode_len[parent]
            mode_weights[d] = mode_weights[parent, -1][None, :]
            d += 1
        item_offset.append(len(item_account))

    dash_ids = "dsh-" + _unique_random_strings(rng, n_dash_ids_needed, 8, _HEX)
    dash_payloads = np.empty((len(dash_titles), len(_TIME_RANGES)), dtype=object)
    for i, (dash_id, title, panels) in enumerate(zip(dash_ids, dash_titles, dash_panels)):
        head = (
            '{"dashboard": {"id": '
            + json.dumps(dash_id)
            + ', "title": '
            + json.dumps(title)
            + '}, "panels": '
            + panels
            + ', "time_range": '
        )
        for r, (t_from, t_to) in enumerate(_TIME_RANGES):
            dash_payloads[i, r] = head + json.dumps({"from": t_from, "to": t_to}) + "}"

    return _Catalog(
        account_ids=account_ids,
        user_ids=user_ids,
        user_novice=novice.reshape(-1),
        users_per_account=n_users,
        item_account=np.asarray(item_account, dtype=np.int64),
        item_is_query=np.asarray(item_is_query, dtype=bool),
        item_ref=np.asarray(item_ref, dtype=np.int64),
        item_offset=np.asarray(item_offset, dtype=np.int64),
        popular=popular,
        dash_ids=dash_ids,
        dash_titles=np.asarray(dash_titles, dtype=object),
        dash_payloads=dash_payloads,
        templates=templates,
        def_account=def_account,
        def_ids=def_ids,
        def_titles=def_titles,
        def_severity=def_severity,
        def_cold=def_cold,
        def_parent=def_parent,
        def_rate=def_rate,
        def_nmodes=def_nmodes,
        def_causes=def_causes,
        mode_steps=mode_steps,
        mode_len=mode_len,
        mode_weights=mode_weights,
    )
