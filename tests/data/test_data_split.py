"""The split rules: exact sizes, stratification of every block, stable test part."""

from __future__ import annotations

import numpy as np
import pytest

from mdlnas.data.split import PartSizes, count, plan_sizes, proportional_order, split_indices
from mdlnas.errors import DataError


def _imbalanced_labels(rng: np.random.Generator, sizes: list[int]) -> np.ndarray:
    y = np.concatenate([np.full(size, k) for k, size in enumerate(sizes)]).astype(np.int64)
    return rng.permutation(y)


def test_count_rounds_halves_up() -> None:
    assert [count(n, 0.5) for n in (1, 3, 5)] == [1, 2, 3]  # round() would give 0, 2, 2
    assert count(150, 0.2) == 30 and count(1797, 0.2) == 359


@pytest.mark.parametrize("seed", range(5))
def test_every_contiguous_block_is_proportional(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = _imbalanced_labels(rng, [500, 120, 37, 9, 3])
    order = proportional_order(y, rng, len(y))
    assert np.array_equal(np.sort(order), np.arange(len(y)))
    share = np.bincount(y) / len(y)
    for _ in range(200):
        start, stop = np.sort(rng.integers(0, len(y) + 1, size=2))
        block = np.bincount(y[order[start:stop]], minlength=len(share))
        assert np.all(np.abs(block - share * (stop - start)) < stratification_bound(share))


def stratification_bound(share: np.ndarray) -> np.ndarray:
    """How far (in rows) a block's class count may be from proportional; see split.py."""
    return 1 + share * max(len(share) - 2, 0) + 1e-9


def test_balanced_blocks_are_off_by_at_most_one_row() -> None:
    y = np.repeat(np.arange(4), 50).astype(np.int64)
    order = proportional_order(y, np.random.default_rng(0), len(y))
    for start in range(0, 200, 7):
        for stop in range(start, 201, 13):
            block = np.bincount(y[order[start:stop]], minlength=4)
            assert np.all(np.abs(block - (stop - start) / 4) < 2)


def test_unstratified_order_is_a_permutation() -> None:
    order = proportional_order(None, np.random.default_rng(0), 17)
    assert np.array_equal(np.sort(order), np.arange(17))


def test_plan_sizes_default_and_fixed_test() -> None:
    assert plan_sizes(150, val_fraction=0.2, test_fraction=0.2, n_train=None) == PartSizes(
        90, 30, 30
    )
    assert plan_sizes(4000, val_fraction=0.2, test_fraction=None, n_train=None) == PartSizes(
        3200, 800, 0
    )


def test_n_train_keeps_the_val_to_train_ratio() -> None:
    sizes = plan_sizes(60000, val_fraction=0.2, test_fraction=None, n_train=2000)
    assert sizes == PartSizes(2000, 500, 0)


@pytest.mark.parametrize(
    ("n", "n_train", "message"),
    [
        (3, None, "too few rows"),
        (2, None, "too few rows"),
        (150, 91, "exceeds the 90 rows"),
    ],
)
def test_plan_sizes_rejects_impossible_splits(n: int, n_train: int | None, message: str) -> None:
    with pytest.raises(DataError, match=message):
        plan_sizes(n, val_fraction=0.2, test_fraction=0.2, n_train=n_train)


def test_smallest_splittable_sample() -> None:
    assert plan_sizes(5, val_fraction=0.2, test_fraction=0.2, n_train=None) == PartSizes(3, 1, 1)


def test_parts_are_disjoint_and_test_does_not_depend_on_n_train() -> None:
    y = _imbalanced_labels(np.random.default_rng(1), [300, 100, 20])
    full = split_indices(y, PartSizes(252, 84, 84), np.random.default_rng(7), len(y))
    cut = split_indices(y, PartSizes(50, 17, 84), np.random.default_rng(7), len(y))
    train, val, test = full
    assert len(np.intersect1d(train, val)) == len(np.intersect1d(train, test)) == 0
    assert len(np.intersect1d(val, test)) == 0
    assert np.array_equal(np.sort(np.concatenate(full)), np.arange(len(y)))
    assert np.array_equal(cut[2], test)
    assert set(cut[0]) <= set(train) and set(cut[1]) <= set(val)


def test_every_class_reaches_train_even_when_tiny() -> None:
    rng = np.random.default_rng(0)
    y = _imbalanced_labels(rng, [200, 1, 1, 2])
    for seed in range(10):
        train, _, _ = split_indices(y, PartSizes(5, 50, 50), np.random.default_rng(seed), len(y))
        assert set(y[train]) == {0, 1, 2, 3}
