"""A table's shape: key and value size histograms, records per leaf page, the largest records.

Read from the leaf pages' node headers (sizes, no decoding), many leaves at once, in
short read transactions resumed by key, with progress and cancel. Tables of up to
``max_records`` records (default 2,000,000) are read whole; a bigger table is sampled: every
k-th leaf page (k = records / max_records, rounded up), evenly across its key range, and the
result says so (``where``); its largest records are then the largest of the sampled pages.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from zlmdb_inspect.core.fmt import ordinal
from zlmdb_inspect.core.slots import slot_prefix
from zlmdb_inspect.storage.leaves import LeafBatch, LeafWalk, leaf_groups

if TYPE_CHECKING:
    from zlmdb_inspect.core.model import Table
    from zlmdb_inspect.storage.inspector import Inspector

MAX_RECORDS = 2_000_000
LARGEST = 10
GROUP = 256  # leaves read in one batch between looks at the clock
BINS = 33  # power-of-two buckets: [0], [1], [2,3], [4,7], … up to 2**31


@dataclass
class Histogram:
    """Counts in power-of-two buckets: bucket 0 holds 0, bucket b holds [2**(b-1), 2**b - 1]."""

    name: str
    counts: list[int] = field(default_factory=lambda: [0] * BINS)
    total: int = 0
    sum: int = 0
    min: int | None = None
    max: int | None = None

    def add(self, values: np.ndarray) -> None:
        if not len(values):
            return
        v = values.astype(np.int64)
        b = np.zeros(len(v), dtype=np.int64)
        pos = v > 0
        b[pos] = np.floor(np.log2(v[pos])).astype(np.int64) + 1
        for i, c in enumerate(np.bincount(np.minimum(b, BINS - 1), minlength=BINS).tolist()):
            self.counts[i] += c
        self.total += len(v)
        self.sum += int(v.sum())
        lo, hi = int(v.min()), int(v.max())
        self.min = lo if self.min is None else min(self.min, lo)
        self.max = hi if self.max is None else max(self.max, hi)

    @property
    def mean(self) -> float | None:
        return self.sum / self.total if self.total else None

    @staticmethod
    def bucket(b: int) -> tuple[int, int]:
        """The bucket's smallest and largest value."""
        return (0, 0) if b == 0 else (1 << (b - 1), (1 << b) - 1)

    def rows(self) -> list[tuple[int, int, int]]:
        """(low, high, count) of the buckets from the first to the last non-empty one."""
        used = [i for i, c in enumerate(self.counts) if c]
        if not used:
            return []
        return [(*self.bucket(b), self.counts[b]) for b in range(used[0], used[-1] + 1)]

    def to_json(self) -> dict:
        return {"name": self.name, "records": self.total, "min": self.min, "max": self.max,
                "mean": self.mean, "buckets": [{"from": lo, "to": hi, "count": c} for lo, hi, c in self.rows()]}


@dataclass
class Shape:
    slot: int
    records: int = 0  # records looked at
    leaves: int = 0  # leaf pages looked at
    table_records: int = 0
    stride: int = 1  # every stride-th leaf page (1: all)
    key_size: Histogram = field(default_factory=lambda: Histogram("key size (bytes)"))
    value_size: Histogram = field(default_factory=lambda: Histogram("value size (bytes)"))
    per_leaf: Histogram = field(default_factory=lambda: Histogram("records per leaf page"))
    largest: list[tuple[int, bytes]] = field(default_factory=list)  # (value bytes, key after the slot prefix)
    overflow_records: int = 0  # values on overflow pages
    elapsed: float = 0.0
    done: bool = False
    cancelled: bool = False
    chunks: int = 0

    @property
    def sampled(self) -> bool:
        return self.stride > 1

    @property
    def where(self) -> str:
        if not self.sampled:
            return f"all {self.records:,} records"
        return (f"a sample: every {ordinal(self.stride)} leaf page, {self.records:,} of "
                f"{self.table_records:,} records; "
                f"the largest records are those of the sampled pages")

    def to_json(self) -> dict:
        return {"slot": self.slot, "records": self.records, "leaves": self.leaves, "sampled": self.sampled,
                "where": self.where, "key_size": self.key_size.to_json(), "value_size": self.value_size.to_json(),
                "records_per_leaf": self.per_leaf.to_json(), "overflow_records": self.overflow_records,
                "largest": [{"key_hex": k.hex(), "bytes": n} for n, k in self.largest]}


def compute(ins: Inspector, table: Table, max_records: int = MAX_RECORDS,
            on_progress: Callable[[Shape], None] | None = None, cancel: threading.Event | None = None,
            chunk_s: float = 0.03) -> Shape:
    """The shape of ``table`` (whole, or sampled beyond ``max_records``), chunk by chunk."""
    prefix = slot_prefix(table.slot)
    shape = Shape(table.slot, table_records=table.records,
                  stride=max(1, math.ceil(table.records / max_records)) if table.records > max_records else 1)
    t0 = time.perf_counter()
    resume: bytes = prefix
    leaf_no = 0
    while True:
        if cancel is not None and cancel.is_set():
            shape.cancelled = True
            break

        def body(txn, pf, meta, resume: bytes = resume) -> tuple[bool, bytes | None]:
            nonlocal leaf_no
            t = time.perf_counter()
            walk = LeafWalk(pf, meta)
            leaves = walk.leaves(resume)
            if shape.chunks:  # the leaf holding `resume` was read by the previous chunk
                next(leaves, None)
            for group in leaf_groups(leaves, GROUP):
                ended = _take(shape, walk, group, table.slot, leaf_no)
                leaf_no += len(group)
                if ended:
                    return True, None
                if len(group) == GROUP and time.perf_counter() - t > chunk_s:
                    return False, _last_key(walk, group[-1])
            return True, None

        finished, last_key = ins.read(body, bounded=True)  # pages only
        shape.chunks += 1
        shape.elapsed = time.perf_counter() - t0
        if on_progress is not None:
            on_progress(shape)
        if finished or last_key is None:
            shape.done = True
            break
        resume = last_key
    shape.largest.sort(key=lambda p: (-p[0], p[1]))
    shape.elapsed = time.perf_counter() - t0
    return shape


def _last_key(walk: LeafWalk, leaf) -> bytes:
    nodes = list(walk.nodes(leaf))
    off, _, ks, _ = nodes[-1]
    return walk.key(off, ks)


def _take(shape: Shape, walk: LeafWalk, group: list, table_slot: int, leaf_no: int) -> bool:
    """Add a group of leaves (the sampled ones); True when the table ended in it."""
    if shape.stride > 1:
        group = [lf for i, lf in enumerate(group) if (leaf_no + i) % shape.stride == 0] or []
        if not group:
            return False
    lb = LeafBatch(walk, group)
    n = len(lb.off)
    if not n:
        return False
    slot = lb.slots()
    mine = slot == table_slot
    ended = bool((slot > table_slot).any())
    if not mine.any():
        return ended
    shape.key_size.add(lb.ksize[mine] - 2)
    shape.value_size.add(lb.dsize[mine])
    leaf_of = np.repeat(np.arange(len(group)), [lf.n for lf in group])
    per = np.bincount(leaf_of[mine], minlength=len(group))
    shape.per_leaf.add(per[per > 0])
    shape.leaves += int((per > 0).sum())
    shape.records += int(mine.sum())
    shape.overflow_records += int((lb.big & mine).sum())
    shape.largest = [(size, key[2:]) for size, key in
                     lb.largest(mine, LARGEST, [(size, slot_prefix(table_slot) + k) for size, k in shape.largest])]
    return ended
