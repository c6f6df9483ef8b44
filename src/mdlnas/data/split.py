"""Reproducible, stratified train / val / test index splits (numpy only).

Every split is read off one random *proportional order* of the rows: within each class the
rows are shuffled and the ``i``-th of ``c`` rows gets the key ``i / c``; sorting all rows by
key (random tie-breaks) interleaves the classes so that **any contiguous block** of the order
holds each class nearly in proportion: a class with share ``p`` among ``K`` classes is off
by less than ``1 + p (K - 2)`` rows (under 2 rows for balanced classes), whatever the block
size. Parts are contiguous blocks: train at the front, test at the back.
Two consequences we rely on:

* the first row of every class has key 0, so every class reaches the training part as long
  as it has at least as many rows as there are classes;
* cutting the training part (``n_train``) only shortens the front block, so the test part
  is the same for a given seed whatever ``n_train`` is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mdlnas.errors import DataError

Index = NDArray[np.int64]


@dataclass(frozen=True)
class PartSizes:
    """Rows per part; ``test`` is 0 where the dataset brings its own test part."""

    train: int
    val: int
    test: int


def count(n: int, fraction: float) -> int:
    """``round(n * fraction)`` with halves rounded up (Python's ``round`` goes to even)."""
    return int(n * fraction + 0.5)


def proportional_order(y: NDArray[np.int64] | None, rng: np.random.Generator, n: int) -> Index:
    """A permutation of ``range(n)``; stratified by the class indices ``y`` when given."""
    if y is None:
        return rng.permutation(n).astype(np.int64)
    # Shuffle, then group by class keeping the shuffled order: a row's position inside its
    # group is its random rank among its class (O(n log n), whatever the class count).
    shuffled = rng.permutation(n)
    grouped = shuffled[np.argsort(y[shuffled], kind="stable")]
    sizes = np.bincount(y)
    starts = np.cumsum(sizes) - sizes
    labels = y[grouped]
    keys = np.empty(n, dtype=np.float64)
    keys[grouped] = (np.arange(n) - starts[labels]) / sizes[labels]
    tie_break = rng.random(n)
    return np.lexsort((tie_break, keys)).astype(np.int64)


def plan_sizes(
    n: int, *, val_fraction: float, test_fraction: float | None, n_train: int | None
) -> PartSizes:
    """Part sizes for ``n`` rows; ``test_fraction=None`` means the test part lives elsewhere
    and ``val_fraction`` is taken of these ``n`` rows."""
    n_test = 0 if test_fraction is None else count(n, test_fraction)
    n_val = count(n, val_fraction)
    n_fit = n - n_val - n_test
    if n_val < 1 or n_fit < 2 or (test_fraction is not None and n_test < 1):
        raise DataError(
            f"too few rows ({n}) to split into train / val / test with val_fraction="
            f"{val_fraction}"
            + ("" if test_fraction is None else f", test_fraction={test_fraction}")
            + "; every part needs at least one row and training at least two: add rows or "
            "change the fractions"
        )
    if n_train is None or n_train == n_fit:
        return PartSizes(n_fit, n_val, n_test)
    if n_train > n_fit:
        raise DataError(
            f"n_train={n_train} exceeds the {n_fit} rows available for training; "
            f"use at most {n_fit} or leave n_train unset"
        )
    # Keep the val:train ratio chosen by the fractions, so a quick run is a scaled-down run.
    return PartSizes(n_train, max(1, int(n_train * n_val / n_fit + 0.5)), n_test)


def split_indices(
    y: NDArray[np.int64] | None, sizes: PartSizes, rng: np.random.Generator, n: int
) -> tuple[Index, Index, Index]:
    """Train, val and test row indices (each sorted) as contiguous blocks of one
    proportional order: train from the front, test from the back, val just before test."""
    order = proportional_order(y, rng, n)
    test_start = n - sizes.test
    val_start = test_start - sizes.val
    parts = (order[: sizes.train], order[val_start:test_start], order[test_start:])
    return np.sort(parts[0]), np.sort(parts[1]), np.sort(parts[2])
