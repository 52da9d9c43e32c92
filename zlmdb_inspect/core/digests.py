"""SHA-256 and BLAKE2b from CPython's own modules: ``hashlib`` loads OpenSSL at import (~5 ms of
every one-shot run's start, for a state file's name and the digests of sampled values); the digests
are the same. ``hashlib``'s where a build lacks them."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 12):
    try:
        from _sha2 import sha256
    except ImportError:
        from hashlib import sha256
else:
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # (no stub)
    except ImportError:
        from hashlib import sha256
try:
    from _blake2 import blake2b
except ImportError:
    from hashlib import blake2b

__all__ = ["blake2b", "sha256"]
