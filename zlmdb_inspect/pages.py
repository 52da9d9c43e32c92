"""Where the page reader was: the on-disk format is :mod:`zlmdb_inspect.pageformat`, the walk
:mod:`zlmdb_inspect.walk`. New code imports from those; this keeps code written against
``pages`` (other branches, benchmarks) working until it moves."""

from zlmdb_inspect.pageformat import (
    _E,
    _KINDS,
    _LITTLE,
    _U16,
    _U32,
    _U64,
    ENGINES,
    F_BIGDATA,
    F_DUPDATA,
    F_SUBDATA,
    MAX_DEPTH,
    MDB_DUPSORT,
    MDB_MAGIC,
    NUM_METAS,
    P_BRANCH,
    P_INVALID,
    P_LEAF,
    P_LEAF2,
    P_META,
    P_OVERFLOW,
    SHORT_KEY_SLOT,
    DbRecord,
    Meta,
    PageError,
    PageFile,
    slot_of,
)
from zlmdb_inspect.walk import LeafSpace, SlotSpace, TreeSummary, TreeWalker, WalkResult

__all__ = [
    "_E", "_KINDS", "_LITTLE", "_U16", "_U32", "_U64", "ENGINES", "F_BIGDATA", "F_DUPDATA", "F_SUBDATA", "MAX_DEPTH",
    "MDB_DUPSORT", "MDB_MAGIC", "NUM_METAS", "P_BRANCH", "P_INVALID", "P_LEAF", "P_LEAF2", "P_META", "P_OVERFLOW",
    "SHORT_KEY_SLOT", "DbRecord", "Meta", "PageError", "PageFile", "slot_of", "LeafSpace", "SlotSpace",
    "TreeSummary", "TreeWalker", "WalkResult",
]
