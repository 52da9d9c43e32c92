"""Set operations on 1-D integer arrays by one sort, in place of ``np.unique`` and ``np.isin``.

numpy 2's ``np.unique`` (and ``np.isin`` over a wide range of values, which calls it) imports
``numpy.ma`` on its first call: 7 ms of CPU that a one-shot run from a state file paid for
nothing. For what the walk and the state's checks pass (1-D arrays of integers of one kind, signed
or not) the results are those of ``np.unique`` (sorted; inverse indices) and ``np.isin``; not for
NaNs (each kept) nor for signed against unsigned values past 2**53 (compared as floats).
"""

from __future__ import annotations

import numpy as np


def unique(a: np.ndarray) -> np.ndarray:
    """The distinct values of ``a``, sorted (``np.unique(a)``)."""
    assert a.ndim == 1
    s = np.sort(a)
    if len(s) < 2:
        return s
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


def unique_inverse(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(a, return_inverse=True)``: the distinct values, sorted, and each element's
    index among them."""
    assert a.ndim == 1
    order = np.argsort(a, kind="stable")
    s = a[order]
    first = np.ones(len(s), dtype=bool)
    first[1:] = s[1:] != s[:-1]
    inv = np.empty(len(a), dtype=np.intp)
    inv[order] = np.cumsum(first) - 1
    return s[first], inv


def has_repeats(a: np.ndarray) -> bool:
    """Whether some value occurs twice in ``a``."""
    assert a.ndim == 1
    s = np.sort(a)
    return bool((s[1:] == s[:-1]).any())


def isin(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.isin(a, b)``: whether each element of ``a`` occurs in ``b``."""
    assert a.ndim == 1 and b.ndim == 1
    if not len(b):
        return np.zeros(len(a), dtype=bool)
    s = np.sort(b)
    at = np.minimum(np.searchsorted(s, a), len(s) - 1)
    return s[at] == a


def ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenated ``arange(s, e)`` of each pair (the rows of many summaries at once)."""
    lens = ends - starts
    total = int(lens.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    offs = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens)
    return np.arange(total, dtype=np.int64) + offs


def key_index(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(page number, txnid) rows ``keys`` in key order: the order, and the page numbers and txnids in it
    (for :func:`find_keys`; built once per set of rows)."""
    order = np.lexsort((keys[:, 1], keys[:, 0]))
    return order, keys[order, 0], keys[order, 1]


def repeated_keys(index: tuple[np.ndarray, np.ndarray, np.ndarray]) -> bool:
    """Whether the rows ``index`` sorts (:func:`key_index`) hold some (page number, txnid) twice."""
    _, pg, tx = index
    return bool(((pg[1:] == pg[:-1]) & (tx[1:] == tx[:-1])).any())


def find_keys(index: tuple[np.ndarray, np.ndarray, np.ndarray], pgnos: np.ndarray, txnids: np.ndarray) -> np.ndarray:
    """The row of each key (``pgnos[i]``, ``txnids[i]``) in the rows ``index`` sorts (:func:`key_index`; keys
    unique), -1 where there is none: a binary search, by txnid only where a page number is under several."""
    order, pg, tx = index
    out = np.full(len(pgnos), -1, dtype=np.int64)
    if not len(pgnos) or not len(order):
        return out
    pgnos, txnids = np.asarray(pgnos, dtype=np.int64), np.asarray(txnids, dtype=np.int64)
    lo, hi = np.searchsorted(pg, pgnos, "left"), np.searchsorted(pg, pgnos, "right")
    one = hi - lo == 1  # the page number under one txnid (nearly always)
    at = np.minimum(lo, len(order) - 1)
    hit = one & (tx[at] == txnids)
    out[hit] = order[at[hit]]
    for i in np.flatnonzero(hi - lo > 1).tolist():
        j = int(lo[i]) + int(np.searchsorted(tx[lo[i]:hi[i]], txnids[i]))
        if j < hi[i] and tx[j] == txnids[i]:
            out[i] = order[j]
    return out
