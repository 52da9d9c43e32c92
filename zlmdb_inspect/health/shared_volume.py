"""Several databases on one volume: they share its free bytes, so each one's "available" counts the
same free space again. Graded here once for the volume (issue 29 item 1).

Each database brings its own space (its reusable pages and the blocks its file holds above the
high-water mark; no other database can use them) and draws the rest from the volume's free bytes.
So the volume is outgrown when what each needs *beyond its own space* adds up to more than the free
bytes: the need of one commit each (critical: whichever writer commits next fails with
MDB_SHORT_WRITE, or dies of SIGBUS under MDB_WRITEMAP), or the growth each history measured (time
to full of the volume, graded with the map-eta thresholds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from zlmdb_inspect.core.fmt import fmt_bytes, fmt_duration
from zlmdb_inspect.core.kinds import RuleId, Severity
from zlmdb_inspect.core.model import Snapshot
from zlmdb_inspect.core.options import Thresholds
from zlmdb_inspect.health.evaluate import apply_rules
from zlmdb_inspect.health.findings import Finding
from zlmdb_inspect.health.timetofull import GROWING, TimeToFull, snapshot_need

PRACTICE = "Deployment Considerations: Database sizing (map_size)"


@dataclass(frozen=True)
class Member:
    """One database's part in its volume."""

    path: str
    own_bytes: int  # reusable pages + blocks above the high-water mark: space only this database can use
    need_bytes: int  # one commit's need beyond own_bytes, drawn from the volume's free bytes
    claim_bytes: int  # what its map still allows beyond own_bytes: its share of the free bytes if it grew
    bytes_per_s: float | None  # growth of pages in use over its history (None: not growing or no history)


@dataclass
class SharedVolume:
    """One volume and the databases of a run on it; ``findings`` grade them together."""

    device: Any  # st_dev (or the mount point where a snapshot lacks it)
    mount: str
    size_bytes: int
    free_bytes: int
    members: list[Member]
    seconds: float | None = None  # their growth fills the free bytes in this many seconds (None: no growth)
    findings: list[Finding] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [m.path for m in self.members]

    @property
    def shared(self) -> bool:
        return len(self.members) > 1

    @property
    def need_bytes(self) -> int:
        return sum(m.need_bytes for m in self.members)

    @property
    def claim_bytes(self) -> int:
        return sum(m.claim_bytes for m in self.members)

    @property
    def limits(self) -> bool:
        """Shared, and their maps together allow more than the volume's free bytes: the volume, not
        each map, is what they run into, and each one's "available" counts the same free bytes."""
        return self.shared and self.claim_bytes > self.free_bytes

    @property
    def bytes_per_s(self) -> float | None:
        rates = [m.bytes_per_s for m in self.members if m.bytes_per_s]
        return sum(rates) if rates else None

    def text(self, path: str, mount: str | None = None) -> str:
        """"shares /srv (10.3 MiB free) with 2 other databases", from ``path``'s point of view
        (``mount``: the mount point as a narrow column shows it)."""
        others = len(self.members) - 1 if path in self.paths else len(self.members)
        return (f"shares {mount or self.mount} ({fmt_bytes(self.free_bytes)} free) with {others} other "
                f"database{'' if others == 1 else 's'}")

    def summary(self, mount: str | None = None) -> str:
        """"/srv: 3 databases share 10.3 MiB free; their maps allow 2.9 GiB more", for a fleet's header."""
        s = (f"{mount or self.mount}: {len(self.members)} databases share {fmt_bytes(self.free_bytes)} free of "
             f"{fmt_bytes(self.size_bytes)}; their maps allow {fmt_bytes(self.claim_bytes)} more")
        if self.seconds is not None:
            s += f"; full in {fmt_duration(self.seconds)} at {fmt_bytes(self.bytes_per_s or 0)}/s together"
        return s

    def to_dict(self) -> dict[str, Any]:
        return {"mount": self.mount, "device": self.device, "size_bytes": self.size_bytes,
                "free_bytes": self.free_bytes, "paths": self.paths, "limits": self.limits,
                "need_bytes": self.need_bytes, "claim_bytes": self.claim_bytes,
                "bytes_per_s": self.bytes_per_s, "eta_full_s": self.seconds,
                "findings": [f.to_dict() for f in self.findings]}


def member_of(path: str, snap: Snapshot, eta: TimeToFull | None) -> Member | None:
    """``path``'s part in its volume, or None when its volume could not be read."""
    cap, fs = snap.capacity, snap.capacity.filesystem
    if not fs or cap.disk_available_bytes is None:
        return None
    own = max(0, cap.disk_available_bytes - fs["free_bytes"])
    map_avail = cap.map_available_bytes or cap.available_bytes
    rate = eta.bytes_per_s if eta is not None and eta.state == GROWING and eta.bytes_per_s else None
    return Member(path, own, max(0, snapshot_need(snap) - own), max(0, map_avail - own), rate)


def fill_seconds(free_bytes: int, members: Sequence[Member]) -> float | None:
    """When the volume's free bytes run out if each database keeps growing at its rate: each first
    fills its own space (own_bytes), then draws from the free bytes. None: nothing grows."""
    growing = sorted((m.own_bytes / m.bytes_per_s, m.bytes_per_s) for m in members if m.bytes_per_s)
    if not growing:
        return None
    t, drawn, rate, left = 0.0, 0.0, 0.0, float(free_bytes)
    for start, r in growing:
        if rate and drawn + rate * (start - t) >= left:
            break
        drawn += rate * (start - t)
        t, rate = start, rate + r
    return t + (left - drawn) / rate


def grade(volume: SharedVolume, th: Thresholds) -> list[Finding]:
    """The volume's findings when several databases share it (rule id ``disk-headroom``, subject the
    mount point): critical when one commit of each needs more than the free bytes, and time to full
    of the volume at their combined growth against the map-eta thresholds."""
    if not volume.shared:
        return []
    out: list[Finding] = []
    n, mount, free = len(volume.members), volume.mount, volume.free_bytes
    move = (f"Free space on {mount} or move some of them to another volume; raising map_size does not help "
            "(the disk, not the map, stops them).")
    if volume.need_bytes > free:
        most = max(m.need_bytes for m in volume.members)
        out.append(Finding(
            RuleId.DISK_HEADROOM, Severity.CRITICAL,
            f"{n} databases on {mount} together outgrow it: one commit of each needs up to {fmt_bytes(most)} "
            f"beyond its own free pages, {fmt_bytes(volume.need_bytes)} together, and {mount} has "
            f"{fmt_bytes(free)} free. The next commits fail with MDB_SHORT_WRITE (ENOSPC), and a "
            f"writer mapping with MDB_WRITEMAP dies of SIGBUS. {move}", PRACTICE,
            figure=volume.need_bytes, threshold=free, subject=mount,
            figure_text=f"{fmt_bytes(volume.need_bytes)} needed by one commit of each of {n} databases",
            threshold_text=f"{fmt_bytes(free)} free on {mount}"))
    seconds = volume.seconds
    if seconds is not None and not out:
        sev = Severity.CRITICAL if seconds < th.map_eta_critical_s else \
            Severity.WARNING if seconds < th.map_eta_warning_s else None
        if sev is not None:
            thr = th.map_eta_critical_s if sev == Severity.CRITICAL else th.map_eta_warning_s
            out.append(Finding(
                RuleId.DISK_HEADROOM, sev,
                f"{n} databases on {mount} grow by {fmt_bytes(volume.bytes_per_s or 0)}/s together and fill its "
                f"{fmt_bytes(free)} free in {fmt_duration(seconds)} (each first reuses its own free pages). {move}",
                PRACTICE, figure=round(seconds, 1), threshold=thr, subject=mount,
                figure_text=f"{mount} full in {fmt_duration(seconds)}",
                threshold_text=f"less than {fmt_duration(thr)}"))
    return out


def shared_volumes(entries: Sequence[tuple[str, Snapshot, TimeToFull | None]], th: Thresholds
                   ) -> list[SharedVolume]:
    """Group databases by volume (``st_dev``); every volume with its members, graded when shared.
    The free bytes are the newest snapshot's (they are read at slightly different moments)."""
    groups: dict[Any, list[tuple[Snapshot, Member]]] = {}
    for path, snap, eta in entries:
        m = member_of(path, snap, eta)
        if m is not None:
            fs = snap.capacity.filesystem or {}
            groups.setdefault(fs.get("device", fs.get("mount")), []).append((snap, m))
    out = []
    for device, group in groups.items():
        fs = max(group, key=lambda sm: sm[0].taken_at)[0].capacity.filesystem or {}
        v = SharedVolume(device, fs["mount"], fs["size_bytes"], fs["free_bytes"], [m for _, m in group])
        v.seconds = fill_seconds(v.free_bytes, v.members)
        v.findings = apply_rules(grade(v, th), th.rules)  # --rule disk-headroom=... applies here too
        out.append(v)
    return out
