"""Counter-based random numbers: every value is a hash of (seed, bank, field, entity, day).

A customer's name or a loan's amount never depends on how many other customers, banks or
days were generated in the same call, so any day's snapshot is byte-identical however it
was asked for, and consecutive days agree about every entity that exists on both.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 2.0**-53


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijective avalanche on uint64."""
    with np.errstate(over="ignore"):
        x = x + _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


def _label(text: str) -> np.uint64:
    return np.uint64(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little"))


class Stream:
    """Random draws for one bank and seed; each call names its field, so fields never correlate."""

    def __init__(self, seed: int, bank: str) -> None:
        self._key = _label(f"granary:{seed}:{bank}")

    def bits(self, field: str, ids: np.ndarray, day: int | None = None) -> np.ndarray:
        h = _mix(np.asarray(self._key ^ _label(field), dtype=np.uint64).reshape(1))
        with np.errstate(over="ignore"):
            h = _mix(h ^ np.asarray(ids, dtype=np.int64).astype(np.uint64))
            if day is not None:
                h = _mix(h ^ np.uint64(day & 0xFFFFFFFF))
        return h

    def uniform(self, field: str, ids: np.ndarray, day: int | None = None) -> np.ndarray:
        """Uniform in [0, 1)."""
        return (self.bits(field, ids, day) >> np.uint64(11)).astype(np.float64) * _TO_UNIT

    def normal(self, field: str, ids: np.ndarray, day: int | None = None) -> np.ndarray:
        """Standard normal (Box-Muller over two independent uniforms)."""
        u1 = 1.0 - self.uniform(field + "#1", ids, day)
        u2 = self.uniform(field + "#2", ids, day)
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2)

    def lognormal(self, field: str, ids: np.ndarray, median: np.ndarray | float, sigma: float) -> np.ndarray:
        return np.asarray(median) * np.exp(sigma * self.normal(field, ids))

    def integers(
        self, field: str, ids: np.ndarray, low: int, high: int, day: int | None = None
    ) -> np.ndarray:
        """Integers in [low, high)."""
        return low + (self.uniform(field, ids, day) * (high - low)).astype(np.int64)

    def choice(self, field: str, ids: np.ndarray, weights: np.ndarray | list[float]) -> np.ndarray:
        """Index into `weights` drawn with those (relative) weights."""
        w = np.asarray(weights, dtype=np.float64)
        cdf = np.cumsum(w / w.sum())
        cdf[-1] = 1.0
        return np.searchsorted(cdf, self.uniform(field, ids), side="right")

    def choice_rows(
        self, field: str, ids: np.ndarray, weights: np.ndarray, day: int | None = None
    ) -> np.ndarray:
        """Like choice, with one row of weights per id (shape: len(ids) x options)."""
        w = np.asarray(weights, dtype=np.float64)
        cdf = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
        u = self.uniform(field, ids, day)[:, None]
        return np.minimum((u >= cdf).sum(axis=1), w.shape[1] - 1)
