"""Time units and numpy helpers of the generator: random id strings, microsecond timestamps, day labels."""

from __future__ import annotations

import datetime as dt
import json
import logging

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

_US = 1_000_000
_DAY_US = 86_400 * _US
_EPOCH = dt.date(1970, 1, 1)
_HEX = "0123456789abcdef"
_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"


def _ts(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day.isoformat(), tz="UTC")


def _day_us(day: dt.date) -> int:
    return (day - _EPOCH).days * _DAY_US


def _json_escape(text: str) -> str:
    return json.dumps(text)[1:-1]


def _str(values: np.ndarray) -> np.ndarray:
    return values.astype(str).astype(object)


def _random_bytes(rng: np.random.Generator, n: int, width: int, alphabet: str) -> np.ndarray:
    lut = np.frombuffer(alphabet.encode("ascii"), dtype="S1")
    index = rng.integers(0, len(alphabet), size=(n, width), dtype=np.uint8)
    return np.ascontiguousarray(lut[index]).view(f"S{width}").reshape(n)


def _random_strings(rng: np.random.Generator, n: int, width: int, alphabet: str) -> np.ndarray:
    """``n`` random strings of ``width`` characters of ``alphabet`` (object array)."""
    if n == 0:
        return np.empty(0, dtype=object)
    return _random_bytes(rng, n, width, alphabet).astype(f"U{width}").astype(object)


def _unique_random_strings(rng: np.random.Generator, n: int, width: int, alphabet: str) -> np.ndarray:
    """Like :func:`_random_strings`, redrawing until all ``n`` strings are distinct."""
    if n == 0:
        return np.empty(0, dtype=object)
    raw = _random_bytes(rng, n, width, alphabet)
    while True:
        _, first = np.unique(raw, return_index=True)
        if len(first) == n:
            return raw.astype(f"U{width}").astype(object)
        repeated = np.setdiff1d(np.arange(n), first)
        raw[repeated] = _random_bytes(rng, len(repeated), width, alphabet)


def _to_timestamps(us: np.ndarray, null: np.ndarray | None = None) -> pd.DatetimeIndex:
    values = np.asarray(us, dtype=np.int64).astype("datetime64[us]").astype("datetime64[ns]")
    if null is not None and null.any():
        values = values.copy()
        values[null] = np.datetime64("NaT")
    return pd.DatetimeIndex(values).tz_localize("UTC")


def _day_strings(days: np.ndarray) -> np.ndarray:
    unique, inverse = np.unique(np.asarray(days, dtype=np.int64), return_inverse=True)
    labels = np.array([(_EPOCH + dt.timedelta(days=int(d))).isoformat() for d in unique], dtype=object)
    return labels[inverse]
