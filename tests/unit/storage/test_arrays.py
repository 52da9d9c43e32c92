"""The sort-based set operations equal numpy's (issue 24: numpy's import ``numpy.ma``)."""

from __future__ import annotations

import numpy as np
import pytest

from zlmdb_inspect.storage.arrays import has_repeats, isin, unique, unique_inverse


@pytest.mark.parametrize("seed", range(20))
def test_equal_to_numpy(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 50))
    wide = 10 ** int(rng.integers(1, 15))
    a = rng.integers(-wide, wide, n)
    if wide < 2**31 and seed % 2:
        a = a.astype(np.int32)  # the state's columns and slots come in both widths
    b = np.concatenate((rng.choice(a, min(n, 5)) if n else a[:0], rng.integers(-wide, wide, int(rng.integers(0, 8)))))
    assert np.array_equal(unique(a), np.unique(a)) and unique(a).dtype == np.unique(a).dtype
    u, inv = unique_inverse(a)
    nu, ninv = np.unique(a, return_inverse=True)
    assert np.array_equal(u, nu) and np.array_equal(inv, ninv) and inv.shape == ninv.shape
    assert (u.dtype, inv.dtype) == (nu.dtype, ninv.dtype)
    assert has_repeats(a) == (len(np.unique(a)) != len(a))
    assert np.array_equal(isin(a, b), np.isin(a, b))


def test_small_cases():
    e = np.zeros(0, dtype=np.int64)
    assert len(unique(e)) == 0 and not has_repeats(e) and len(isin(e, e)) == 0
    assert not isin(np.array([1, 5]), e).any()
    assert isin(np.array([1, 5, 9]), np.array([9, 1])).tolist() == [True, False, True]
    assert has_repeats(np.array([3, 1, 3])) and not has_repeats(np.array([7]))
    u, inv = unique_inverse(np.array([5, 2, 5, 2, 9]))
    assert u.tolist() == [2, 5, 9] and inv.tolist() == [1, 0, 1, 0, 2]
