"""What a compaction would return, from the walk's figures alone (issue 29 item 4).

A compacting copy (``mdb_copy -c``, ``Environment.copy(path, compact=True)``) writes the two meta
pages and every page the trees use, renumbered, and no free list: its size is the page counts the
meta page and the named databases' records keep. It copies each page as it is, so half-full leaves
stay half full. Rewriting the records in key order (``mdb_dump | mdb_load -a``, or a migration that
appends) fills each leaf until the next record does not fit: the bytes the leaves use (the page
size minus the header minus the gap between ``lower`` and ``upper``, summed by the walk) over what
one page holds, less half a record's node per page for the one that did not fit.
"""

from __future__ import annotations

import math

from zlmdb_inspect.storage.pageformat import NUM_METAS, Meta, PageFile
from zlmdb_inspect.storage.walk import WalkResult


def compact_figures(pf: PageFile, meta: Meta, walk: WalkResult) -> dict[str, int]:
    """``{"copy_bytes", "rewrite_bytes"}`` of the snapshot ``meta`` that ``walk`` read."""
    ps = pf.page_size
    main = meta.main
    named = sum(r.branch_pages + r.leaf_pages + r.overflow_pages for _, r in walk.summary.named_dbs)
    tree = main.branch_pages + main.leaf_pages + main.overflow_pages
    copy_pages = NUM_METAS + tree + named
    s = walk.summary
    room = ps - pf.hdrsz  # what one page holds of pointers and nodes
    used = s.leaf_pages * room - s.leaf_free_bytes  # pointers and nodes of every record
    if s.leaf_pages and s.entries and used > 0:
        node = used / s.entries  # the average record's pointer and node
        leaves = math.ceil(used / max(room - node / 2, node))
        # branch pages: as many children each as the tree's branches hold now (about 1 % of the pages)
        fanout = max(2.0, main.leaf_pages / max(1, main.branch_pages))
        branches = math.ceil(leaves / fanout) if leaves > 1 else 0
    else:
        leaves, branches = main.leaf_pages, main.branch_pages
    rewrite_pages = NUM_METAS + leaves + branches + main.overflow_pages + named
    return {"copy_bytes": copy_pages * ps, "rewrite_bytes": rewrite_pages * ps}
