"""Scattered page reads: what a walk from saved summaries pays per page, by how it reads.

A repeat run reads the headers of ~16,000 leaves and ~6,000 whole bottom branch pages scattered
over a 10M-record file (storage/pageformat.py: header_words, fresh_pages). This prints the CPU
per read (warm page cache) of ``pread`` of a 24-byte header and ``preadv`` of a whole page, in
tree order (random) and in file order (sorted), of the same pages in the same run; with
``--uring``, the same header reads through Linux ``io_uring`` (rings filled by numpy, 4,096 reads
per ``io_uring_enter``; ctypes, x86-64 system call numbers) for comparison; with ``--map``, the same headers
through a fresh read-only mapping of the file with ``MADV_RANDOM`` (one page fault each, no neighbours
mapped), and copied out of such a mapping by ``process_vm_readv`` of this process's own memory, 1,024
pages per call (the kernel faults them in; one system call for many pages).

    python benchmarks/pread_bench.py PATH/data.mdb [--pages 16000] [--uring] [--map]
"""

from __future__ import annotations

import argparse
import ctypes
import mmap
import os
import struct
import time

import numpy as np


class _Ring:
    """A minimal io_uring (IORING_OP_READ only) for the comparison; not used by the inspector."""

    def __init__(self, entries: int) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.syscall.restype = ctypes.c_long
        p = ctypes.create_string_buffer(120)
        fd = self.libc.syscall(425, ctypes.c_uint(entries), p)  # io_uring_setup
        if fd < 0:
            raise OSError(ctypes.get_errno(), "io_uring_setup")
        self.fd = fd
        sq_n, cq_n = struct.unpack_from("2I", p.raw, 0)
        sq, cq = struct.unpack_from("7I", p.raw, 40), struct.unpack_from("7I", p.raw, 80)
        rw = mmap.PROT_READ | mmap.PROT_WRITE
        self.sqm = mmap.mmap(fd, sq[6] + sq_n * 4, mmap.MAP_SHARED, rw, offset=0)
        self.cqm = mmap.mmap(fd, cq[5] + cq_n * 16, mmap.MAP_SHARED, rw, offset=0x8000000)
        self.sqem = mmap.mmap(fd, sq_n * 64, mmap.MAP_SHARED, rw, offset=0x10000000)
        self.n = sq_n
        self.sq_tail = np.frombuffer(self.sqm, np.uint32, 1, sq[1])
        self.sq_mask = int(np.frombuffer(self.sqm, np.uint32, 1, sq[2])[0])
        np.frombuffer(self.sqm, np.uint32, sq_n, sq[6])[:] = np.arange(sq_n, dtype=np.uint32)
        self.cq_head = np.frombuffer(self.cqm, np.uint32, 1, cq[0])
        self.cq_tail = np.frombuffer(self.cqm, np.uint32, 1, cq[1])
        self.cq_mask = int(np.frombuffer(self.cqm, np.uint32, 1, cq[2])[0])
        self.cqes = np.frombuffer(self.cqm, np.dtype([("ud", "<u8"), ("res", "<i4"), ("fl", "<u4")]), cq_n, cq[5])
        self.sqes = np.frombuffer(self.sqem, np.dtype([("op", "u1"), ("fl", "u1"), ("prio", "<u2"), ("fd", "<i4"),
                                                       ("off", "<u8"), ("addr", "<u8"), ("len", "<u4"),
                                                       ("rwf", "<u4"), ("ud", "<u8"), ("pad", "<u8", 3)]), sq_n)

    def read(self, fd: int, offsets: np.ndarray, size: int, out: np.ndarray) -> np.ndarray:
        res = np.empty(len(offsets), np.int32)
        done = 0
        while done < len(offsets):
            k = min(self.n, len(offsets) - done)
            tail = int(self.sq_tail[0])
            idx = (tail + np.arange(k, dtype=np.uint32)) & self.sq_mask
            s = np.zeros(k, self.sqes.dtype)
            s["op"], s["fd"], s["len"] = 22, fd, size  # IORING_OP_READ
            s["off"] = offsets[done:done + k]
            s["addr"] = out.ctypes.data + (done + np.arange(k, dtype=np.uint64)) * size
            s["ud"] = done + np.arange(k, dtype=np.uint64)
            self.sqes[idx] = s
            self.sq_tail[0] = (tail + k) & 0xFFFFFFFF
            got = 0
            while got < k:
                r = self.libc.syscall(426, self.fd, ctypes.c_uint(k if got == 0 else 0), ctypes.c_uint(k - got),
                                      ctypes.c_uint(1), None, 0)  # io_uring_enter, GETEVENTS
                if r < 0:
                    raise OSError(ctypes.get_errno(), "io_uring_enter")
                h, t = int(self.cq_head[0]), int(self.cq_tail[0])
                e = self.cqes[(h + np.arange((t - h) & 0xFFFFFFFF, dtype=np.uint32)) & self.cq_mask]
                res[e["ud"].astype(np.int64)] = e["res"]
                self.cq_head[0] = t
                got += len(e)
            done += k
        return res


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def _fresh_map(fd: int, size: int, libc) -> tuple[mmap.mmap, np.ndarray]:
    """A new read-only mapping of the file (none of its pages mapped yet), with ``MADV_RANDOM``."""
    mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
    arr = np.frombuffer(mm, np.uint8)
    if libc.madvise(ctypes.c_void_p(arr.ctypes.data), ctypes.c_size_t(size), 1) != 0:  # MADV_RANDOM
        raise OSError(ctypes.get_errno(), "madvise")
    return mm, arr


def _vm_readv(libc, base: int, offsets: np.ndarray, size: int, out: np.ndarray, batch: int = 1024) -> int:
    """Copy ``size`` bytes at each offset of this process's mapping at ``base`` into ``out`` with
    ``process_vm_readv`` of its own pid, ``batch`` pages per call; the bytes copied."""
    local, remote = (_IoVec * batch)(), (_IoVec * batch)()
    lv = np.frombuffer(memoryview(local).cast("B"), np.uint64).reshape(batch, 2)
    rv = np.frombuffer(memoryview(remote).cast("B"), np.uint64).reshape(batch, 2)
    pid, got = os.getpid(), 0
    for i in range(0, len(offsets), batch):
        k = min(batch, len(offsets) - i)
        lv[:k, 0] = out.ctypes.data + np.arange(i, i + k, dtype=np.uint64) * size
        rv[:k, 0] = np.uint64(base) + offsets[i:i + k].astype(np.uint64)
        lv[:k, 1] = rv[:k, 1] = size
        r = libc.process_vm_readv(pid, local, k, remote, k, 0)
        if r < 0:
            raise OSError(ctypes.get_errno(), "process_vm_readv")
        got += r
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path")
    ap.add_argument("--pages", type=int, default=16000)
    ap.add_argument("--page-size", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--uring", action="store_true")
    ap.add_argument("--map", action="store_true", help="also through a fresh mapping, and by process_vm_readv")
    args = ap.parse_args()
    fd = os.open(args.path, os.O_RDONLY)
    ps, hdr = args.page_size, 24
    n_pages = os.fstat(fd).st_size // ps
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
    rng = np.random.default_rng(1)
    ring = _Ring(4096) if args.uring else None
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.process_vm_readv.restype = ctypes.c_ssize_t
    libc.process_vm_readv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p,
                                      ctypes.c_ulong, ctypes.c_ulong]
    print(f"{args.pages} pages of {n_pages} at random, warm; CPU per read (µs)")
    print(f"{'round':5} {'hdr tree':>9} {'hdr file':>9} {'page tree':>10} {'page file':>10}" +
          (f" {'hdr uring':>10}" if ring else "") + (f" {'hdr map':>10} {'hdr vm_readv':>12}" if args.map else ""))
    for r in range(args.rounds):
        pg = rng.choice(n_pages, min(args.pages, n_pages), replace=False)
        tree, file = pg * ps, np.sort(pg) * ps
        for off in tree.tolist():
            os.pread(fd, ps, off)  # in the page cache
        row = []
        for offs in (tree, file):
            ol = offs.tolist()
            t = time.process_time()
            data = b"".join([os.pread(fd, hdr, o) for o in ol])
            row.append((time.process_time() - t) / len(ol) * 1e6)
            assert len(data) == hdr * len(ol)
        buf = np.empty(len(pg) * ps, np.uint8)
        flat = buf.data
        for offs in (tree, file):
            ol = offs.tolist()
            t = time.process_time()
            for i, o in enumerate(ol):
                os.preadv(fd, [flat[i * ps:(i + 1) * ps]], o)
            row.append((time.process_time() - t) / len(ol) * 1e6)
        if ring is not None:
            out = np.empty(len(pg) * hdr, np.uint8)
            t = time.process_time()
            res = ring.read(fd, file.astype(np.uint64), hdr, out)
            row.append((time.process_time() - t) / len(pg) * 1e6)
            assert (res == hdr).all()
            assert out.tobytes() == b"".join([os.pread(fd, hdr, o) for o in file.tolist()])
        if args.map:
            want = np.frombuffer(b"".join([os.pread(fd, hdr, o) for o in file.tolist()]), np.uint8)
            mm, arr = _fresh_map(fd, n_pages * ps, libc)
            cols = file[:, None] + np.arange(hdr)
            t = time.process_time()
            got = arr[cols].reshape(-1)  # one fault a page: the first byte's
            row.append((time.process_time() - t) / len(pg) * 1e6)
            assert (got == want).all()
            del arr, got
            mm.close()
            mm, arr = _fresh_map(fd, n_pages * ps, libc)
            out = np.empty(len(pg) * hdr, np.uint8)
            t = time.process_time()
            n = _vm_readv(libc, arr.ctypes.data, file, hdr, out)
            row.append((time.process_time() - t) / len(pg) * 1e6)
            assert n == len(pg) * hdr and (out == want).all()
            del arr
            mm.close()
        print(f"{r:5} " + " ".join(f"{v:9.2f}" if i < 2 else f"{v:10.2f}" for i, v in enumerate(row)))
    tree_over_file = row[0] / row[1]
    print(f"header reads in tree order cost {tree_over_file:.2f}x those in file order (last round)")


if __name__ == "__main__":
    main()
