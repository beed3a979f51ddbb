"""Small array helpers of the features stage: epoch seconds, safe ratios, non-blank masks."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _epoch_s(values: pd.Series) -> np.ndarray:
    ts = pd.to_datetime(values, utc=True)
    return (ts.astype("int64").to_numpy() / 1e9).astype(float)


def _ratio(num: pd.Series | np.ndarray, den: pd.Series | np.ndarray) -> np.ndarray:
    n = np.asarray(num, dtype=float)
    d = np.asarray(den, dtype=float)
    return np.divide(n, d, out=np.zeros_like(n), where=d > 0)


def _non_blank(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _non_blank_mask(values: pd.Series) -> np.ndarray:
    """A boolean array (never an object Series, which would select columns when empty)."""
    return np.fromiter((_non_blank(v) for v in values), dtype=bool, count=len(values))
