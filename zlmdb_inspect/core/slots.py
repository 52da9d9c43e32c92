"""zlmdb's key layout: every key of a table starts with its slot index as 2 big-endian bytes, and slot 0
holds one metadata record per table (key ``\\0\\0`` + slot). One place for that arithmetic."""

from __future__ import annotations

import struct

_SLOT = struct.Struct(">H")
MAX_SLOT = 0xFFFF


def slot_prefix(slot: int) -> bytes:
    """The 2 bytes every key of ``slot`` starts with."""
    return _SLOT.pack(slot)


def slot_end(slot: int) -> bytes | None:
    """The first key after every key of ``slot`` (the next slot's prefix), or None after the last slot."""
    return _SLOT.pack(slot + 1) if slot < MAX_SLOT else None


def slot_range(slot: int) -> tuple[bytes, bytes | None]:
    """``(first, end)`` bounds of ``slot``'s keys: first <= key < end (None: no end)."""
    return slot_prefix(slot), slot_end(slot)


def slot_of(key: bytes) -> int:
    """The slot a key belongs to (its first 2 bytes)."""
    return _SLOT.unpack_from(key)[0]

