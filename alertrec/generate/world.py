"""``generate_world(spec, seed)``: the steps of the generator in order, from one random generator."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from alertrec import schema
from alertrec.generate.catalog import _build_catalog
from alertrec.generate.dirt import _add_dirt
from alertrec.generate.frames import _actions_frame, _alerts_frame, _planned_sessions_frame, _truth_frame
from alertrec.generate.simulate import _build_events, _simulate_firings
from alertrec.generate.spec import NOVICE, World, WorldSpec

log = logging.getLogger(__name__)


def generate_world(spec: WorldSpec, seed: int) -> World:
    """Generate a world: alerts, actions and the planted structure.

    Parameters
    ----------
    spec : WorldSpec
        What to generate.
    seed : int
        Seed of ``numpy.random.default_rng``; the same spec and seed give the
        same frames (and byte-identical files through :func:`write_world`).

    Returns
    -------
    World
    """
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    catalog = _build_catalog(spec, rng)
    firings = _simulate_firings(spec, catalog, rng)
    events = _build_events(spec, catalog, firings, rng)
    _add_dirt(spec, catalog, firings, events, rng)
    alerts = _alerts_frame(spec, catalog, firings, rng)
    actions = _actions_frame(catalog, events)
    truth = _truth_frame(spec, catalog, rng)
    users = pd.DataFrame(
        {
            schema.ACCOUNT_ID: np.repeat(catalog.account_ids, catalog.users_per_account),
            schema.USER_ID: catalog.user_ids,
            NOVICE: catalog.user_novice,
        }
    )
    planned = _planned_sessions_frame(catalog, firings)
    log.info(
        "generated %d action rows, %d alert rows, %d planned sessions for %d accounts in %.2f s",
        len(actions),
        len(alerts),
        len(planned),
        spec.accounts,
        time.perf_counter() - started,
    )
    return World(
        spec=spec, seed=seed, alerts=alerts, actions=actions, truth=truth, users=users, planned_sessions=planned
    )
