"""The filesystem under ``data.mdb``: what the volume still lets a writer add.

A 1 GiB map on a 40 MiB volume fails at the volume, not the map (a writer with
``MDB_WRITEMAP`` dies of SIGBUS on a page without a block behind it; one without gets ENOSPC
from its commit), so the disk is read beside the map: ``statvfs`` ``f_bavail`` (what an
unprivileged writer may use; root's reserve is not the application's) and the file's
allocated blocks (a file may already hold blocks above LMDB's high-water mark).
"""

from __future__ import annotations

import os


def mount_point(path: str) -> str:
    """The mount point holding ``path`` (a real path), found by walking up to a device change."""
    path = os.path.realpath(path)
    while not os.path.ismount(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


class Volume:
    """Reads the volume's figures at every snapshot; the mount point once (it does not move)."""

    def __init__(self, directory: str, data_path: str) -> None:
        self.directory = directory
        self.data_path = data_path
        self._mount: tuple[int, str] | None = None  # (st_dev, mount point)

    def figures(self) -> dict | None:
        """``{"mount", "device", "size_bytes", "free_bytes", "file_allocated_bytes", "file_bytes"}``, or
        None when the volume cannot be read. ``device`` (``st_dev``) tells databases on one volume apart
        from others (a bind mount has another mount point but the same free space)."""
        try:
            vfs = os.statvfs(self.directory)
            st = os.stat(self.data_path)
        except OSError:
            return None
        if self._mount is None or self._mount[0] != st.st_dev:
            self._mount = (st.st_dev, mount_point(self.directory))
        return {"mount": self._mount[1], "device": st.st_dev, "size_bytes": vfs.f_blocks * vfs.f_frsize,
                "free_bytes": vfs.f_bavail * vfs.f_frsize,
                "file_allocated_bytes": st.st_blocks * 512, "file_bytes": st.st_size}


def disk_available(fs: dict, used_bytes: int, reusable_bytes: int) -> int:
    """Bytes a writer can still add as far as the volume goes: its free bytes, the reusable pages,
    and the blocks the file already holds above the high-water mark."""
    above = max(0, fs["file_allocated_bytes"] - used_bytes)
    return fs["free_bytes"] + reusable_bytes + above
