"""What a one-shot run worked out from its snapshot alone, kept for the next run at the same snapshot.

A database that does not change between two runs (most of a fleet, most of the time) gives the
same answers to the same questions: the free runs over the same free lists, the sample of the
same records decoded the same way. A one-shot run recomputed both every time, about half of an
unchanged run's refresh. The state file now keeps them under the snapshot's identity
(:func:`zlmdb_inspect.storage.inspector.snapshot_identity`: txnid, high-water mark, each tree's
root page, entries and root page CRC-32, the file's modification and change times) and this
program's version and, for the sample, the options that decide how records are decoded; a run
whose snapshot, version and options are those takes them, any other recomputes. Nothing is
reused across a commit, and no sample with ``--import`` or ``--fbs`` (application code or schemas
that may have changed since) or in a live process.

The sample's part is what the report and the rules read from it: the per-table statistics
(``--json`` ``sampled``), index drift, the records seen failing, and the sampled times of the
growth estimates with their source (the estimates themselves are worked out again: they depend on
the time of the run).

Untrusted input, as the rest of the state file: :func:`parse` checks every field's type and
range (:mod:`zlmdb_inspect.service.strict`) and raises ``StateError`` on the first doubt (the state
file is then ignored); a memo another version wrote is not used (the rest of the file is).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from zlmdb_inspect import __version__
from zlmdb_inspect.core.slots import MAX_SLOT
from zlmdb_inspect.service.strict import I64 as _I64
from zlmdb_inspect.service.strict import StateError
from zlmdb_inspect.service.strict import listed as _list
from zlmdb_inspect.service.strict import text as _str
from zlmdb_inspect.service.strict import whole as _int

#: snapshot_identity(): txnid, last_pgno, (root, entries, crc) of the main and free trees, the file's mtime and ctime
IDENTITY_LEN = 10
#: What wrote a memo: another version may sample or count differently (a memo of another one is not used).
#: Bump FORMAT when what sampling or the free runs give changes.
FORMAT = 1
VERSION = f"{__version__}/{FORMAT}"
_KINDS = ("codec", "app")  # core.kinds.ErrorKind values

#: The fields of a table's sample statistics (tables.sampling.Sampler.sample) and what each holds:
#: "int" (>= 0), "bool", "str", "str?" (or null), "strs" (a list of texts).
SAMPLED_FIELDS: dict[str, str] = {
    "slot": "int", "sampled": "int", "errors": "int", "undecodable": "int", "app_errors": "int",
    "pickle": "bool", "json": "bool", "est_bytes": "int", "decoder": "str",
    "key_codec": "str?", "value_codec": "str?", "mixed": "str?", "key_misfits": "int", "value_misfits": "int",
    "app_key_failed": "int", "app_key_error": "str?", "app_value_failed": "int", "app_value_error": "str?",
    "where": "str", "notes": "strs",
}


@dataclass
class SampleMemo:
    """One run's sample of every table, and the snapshot and options it was taken under."""

    key: tuple  # snapshot identity + the options' signature (sample_signature)
    sampled: dict[str, dict]  # label -> statistics (SAMPLED_FIELDS)
    drift: list[tuple[str, str]] = field(default_factory=list)  # (index table, what it found)
    failed: dict[str, list[tuple[bytes, str]]] = field(default_factory=dict)  # label -> (raw key, kind)
    examples: list[tuple[str, str, str]] = field(default_factory=list)  # (label, kind, first error)
    times: dict[int, tuple[str, list[int | None]]] = field(default_factory=dict)  # slot -> (source, times)


@dataclass
class Memo:
    """The reusable results of the last one-shot run (either may be missing)."""

    runs_key: tuple[int, ...] | None = None  # snapshot identity + oldest reader + tree depth
    runs: dict | None = None  # storage.freeruns.free_runs()
    sample: SampleMemo | None = None

    def txnid(self) -> int:
        """The newest txnid it speaks of (0: nothing)."""
        keys = [k for k in (self.runs_key, self.sample.key if self.sample else None) if k]
        return max((int(k[0]) for k in keys), default=0)


def sample_signature(sample: int, allow_pickle: bool, fbs_types: dict[str, str], imports: list[str],
                     fbs: list[str]) -> str | None:
    """The options that decide how sampled records read, as one text; None where code or schemas from
    outside decide it (``--import``, ``--fbs``: they may change between runs without the database)."""
    if imports or fbs:
        return None
    return json.dumps([sample, allow_pickle, sorted(fbs_types.items())], separators=(",", ":"))


# -- encoding --------------------------------------------------------------------------------

def encode(memo: Memo | None) -> dict[str, Any] | None:
    """The memo as JSON values (None: nothing to keep)."""
    if memo is None or (memo.runs is None and memo.sample is None):
        return None
    out: dict[str, Any] = {"version": VERSION, "runs": None, "sample": None}
    if memo.runs is not None and memo.runs_key is not None:
        out["runs"] = {"key": list(memo.runs_key), "largest_pages": memo.runs["largest_pages"],
                       "buckets": [[b["pages"][0], b["pages"][1], b["runs"], b["total_pages"]]
                                   for b in memo.runs["runs"]]}
    s = memo.sample
    if s is not None:
        out["sample"] = {
            "key": list(s.key), "sampled": s.sampled, "drift": [list(d) for d in s.drift],
            "failed": {label: [[k.hex(), kind] for k, kind in rows] for label, rows in s.failed.items()},
            "examples": [list(e) for e in s.examples],
            # (a time beyond int64 is no plausible time, as for estimated(): kept as none)
            "times": [[slot, name, [t if t is None or -_I64 - 1 <= t <= _I64 else None for t in ts]]
                      for slot, (name, ts) in sorted(s.times.items())],
        }
    return out


# -- strict decoding ---------------------------------------------------------------------------

def _identity(v: list, what: str) -> tuple[int, ...]:
    """Snapshot identity: whole numbers, 64-bit unsigned (an empty tree's root is LMDB's P_INVALID,
    2**64 - 1; its CRC -1)."""
    return tuple(_int(x, f"{what} part {i}", -1, (1 << 64) - 1) for i, x in enumerate(v))


def _runs(v: Any) -> tuple[tuple[int, ...], dict]:
    if type(v) is not dict or set(v) != {"key", "largest_pages", "buckets"}:
        raise StateError("its free runs are not the expected fields")
    key = _identity(_list(v["key"], "the free runs' key", IDENTITY_LEN + 2), "the free runs' key")
    buckets = []
    for i, b in enumerate(_list(v["buckets"], "the free runs' buckets")):
        lo, hi, n, total = (_int(x, f"free runs bucket {i}") for x in _list(b, f"free runs bucket {i}", 4))
        if not 1 <= lo <= hi or total < n:
            raise StateError(f"free runs bucket {i} is impossible")
        buckets.append({"pages": [lo, hi], "runs": n, "total_pages": total})
    return key, {"largest_pages": _int(v["largest_pages"], "the largest free run"), "runs": buckets}


def _stats(label: str, d: Any) -> dict:
    what = f"the sample of {label!r}"
    if type(d) is not dict or set(d) != set(SAMPLED_FIELDS):
        raise StateError(f"{what} has other fields than a sample's")
    for name, kind in SAMPLED_FIELDS.items():
        v = d[name]
        if kind == "int":
            _int(v, f"{what}'s {name}", 0, MAX_SLOT if name == "slot" else _I64)
        elif kind == "bool" and type(v) is not bool:
            raise StateError(f"{what}'s {name} is not true or false")
        elif kind == "str":
            _str(v, f"{what}'s {name}")
        elif kind == "str?" and v is not None:
            _str(v, f"{what}'s {name}")
        elif kind == "strs":
            for x in _list(v, f"{what}'s {name}"):
                _str(x, f"{what}'s {name}")
    return d


def _sample(v: Any) -> SampleMemo:
    if type(v) is not dict or set(v) != {"key", "sampled", "drift", "failed", "examples", "times"}:
        raise StateError("its sample is not the expected fields")
    key = _list(v["key"], "the sample's key", IDENTITY_LEN + 1)
    key_t = (*_identity(key[:-1], "the sample's key"), _str(key[-1], "the sample's options"))
    if type(v["sampled"]) is not dict:
        raise StateError("the sample's statistics are not an object")
    sampled = {label: _stats(label, d) for label, d in v["sampled"].items()}
    drift = [(_str(a, "an index drift's table"), _str(b, "an index drift's finding"))
             for a, b in (_list(d, "an index drift", 2) for d in _list(v["drift"], "the index drift"))]
    if type(v["failed"]) is not dict:
        raise StateError("the records seen failing are not an object")
    failed: dict[str, list[tuple[bytes, str]]] = {}
    for label, rows in v["failed"].items():
        out = []
        for row in _list(rows, f"the records of {label!r} seen failing"):
            hexkey, kind = _list(row, f"a record of {label!r} seen failing", 2)
            if kind not in _KINDS:
                raise StateError(f"a record of {label!r} failed by an unknown decoder")
            try:
                out.append((bytes.fromhex(_str(hexkey, "a failing record's key")), kind))
            except ValueError:
                raise StateError(f"a record of {label!r} seen failing has a key that is not hex") from None
        failed[label] = out
    examples = []
    for e in _list(v["examples"], "the failures' examples"):
        label, kind, text = (_str(x, "a failure's example") for x in _list(e, "a failure's example", 3))
        if kind not in _KINDS:
            raise StateError("a failure's example names an unknown decoder")
        examples.append((label, kind, text))
    times: dict[int, tuple[str, list[int | None]]] = {}
    for row in _list(v["times"], "the sampled times"):
        slot, name, ts = _list(row, "a table's sampled times", 3)
        slot = _int(slot, "a sampled times' slot", 1, MAX_SLOT)
        if slot in times:
            raise StateError(f"slot {slot}'s sampled times are listed twice")
        times[slot] = (_str(name, "a time source"),
                       [None if t is None else _int(t, "a sampled time", -_I64 - 1) for t in
                        _list(ts, "a table's sampled times")])
    return SampleMemo(key_t, sampled, drift, failed, examples, times)


def parse(v: Any) -> Memo | None:
    """The memo of a state file's JSON (None: absent, as in files written before it was kept, or written
    by another version: not used, and the rest of the file is)."""
    if v is None:
        return None
    if type(v) is dict and v.get("version") != VERSION and type(v.get("version")) is str:
        return None
    if type(v) is not dict or set(v) != {"version", "runs", "sample"}:
        raise StateError("its memo is not the expected fields")
    memo = Memo()
    if v["runs"] is not None:
        memo.runs_key, memo.runs = _runs(v["runs"])
    if v["sample"] is not None:
        memo.sample = _sample(v["sample"])
    return memo
