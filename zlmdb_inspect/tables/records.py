"""A table's records, decoded the way the application sees them, read page by page.

With ``--import``, each slot's oid finds the application's ``@zlmdb.table``
class in ``zlmdb.TABLES_BY_UUID``; keys and values go through that class's own
decoders and each record is shown as its object's ``marshal()``. Without it,
:mod:`zlmdb_inspect.tables.decode` decodes by inspection. A record that fails either
way stays visible: the error on its row, the best built-in decoding beside it.

Every read is one short read transaction (``Inspector.read``); paging is by
key with ``set_range``, so its cost does not depend on the table's size.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zlmdb_inspect.core.kinds import Decoders, ErrorKind
from zlmdb_inspect.core.model import Table
from zlmdb_inspect.core.options import Options
from zlmdb_inspect.core.times import time_hints
from zlmdb_inspect.tables import decode, inference, values

if TYPE_CHECKING:
    pass

PREVIEW_BYTES = 64 * 1024  # what the TUI decodes of a value unless asked for more


@dataclass
class Record:
    raw_key: bytes  # including the 2-byte slot prefix
    key: Any
    value: Any
    decoders: Decoders
    error: str | None
    size: int  # bytes of the stored value
    fallback: Any = None  # built-in decoding of the same bytes when the application's failed
    raw_value: bytes | None = None
    truncated: bool = False
    error_kind: ErrorKind | None = None  # why ``error`` is set

    @property
    def decoder(self) -> str:
        """``key|value`` decoder names, as ``--dump`` writes them."""
        return str(self.decoders)

    def time_hints(self) -> dict[str, str]:
        """ISO times for the value's epoch-time integer fields (``{"created": "2026-…Z"}``), for display;
        the value itself stays raw."""
        return time_hints(self.value)

    def to_json(self) -> dict[str, Any]:
        d = {"key": self.key, "value": self.value, "decoder": self.decoder, "error": self.error}
        if self.error and self.fallback is not None:
            d["fallback"] = self.fallback
        return d

    @property
    def points_to(self) -> str | None:
        """For index records: the oid (UUID or OID) of the record they point to."""
        if isinstance(self.value, str) and _UUID_RE.match(self.value):
            return self.value
        if self.decoders.value.endswith("oid") and isinstance(self.value, int):
            return str(self.value)
        return None


_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass
class RecordWindow:
    """Consecutive records of one table, read by key (what the records screen shows at once)."""

    records: list[Record]
    at_start: bool  # no record of the table before the first one here
    at_end: bool  # no record after the last one
    scanned: int = 0  # records looked at (more than shown when filtering)




#: :meth:`Codec.decode` reads the key or value itself
NOT_FITTED: Any = object()


def _reading(codec: str, fitted: Any, read: Callable[[], Any]) -> Any:
    """``codec``'s reading of a key or value: the one the learning made (:meth:`Codec.learn`; a
    Mismatch raised again), else ``read()`` — also when another codec made it (the profile was
    learnt again meanwhile, by another thread)."""
    if fitted is NOT_FITTED or fitted[0] != codec:
        return read()
    if isinstance(fitted[1], decode.Mismatch):
        raise fitted[1]
    return fitted[1]


@dataclass
class TableProfile:
    """What a sample of one table's records says about decoding all of them.

    ``key_codec``/``value_codec`` are the built-in codecs every record is decoded with
    (with ``--import``: those of the types the class declares, when its records fit
    them); None where the sampled records mix codecs, which is said once here rather
    than on every record.
    """

    sampled: int
    where: str  # which records were sampled
    keys: inference.Inferred
    values: inference.Inferred
    app_class: str | None = None
    declared: tuple[str | None, str | None] = (None, None)
    app_key_failed: int = 0  # sampled keys the application's key decoder raised on
    app_key_error: str | None = None
    app_value_failed: int = 0  # sampled values its decoder or marshal() raised on
    app_value_error: str | None = None
    big_values: int = 0  # sampled values too large to take part in the value inference

    @property
    def key_codec(self) -> str | None:
        return self.keys.codec

    @property
    def value_codec(self) -> str | None:
        return self.values.codec

    @property
    def app_keys_broken(self) -> bool:
        """The application's key decoder raises on every sampled key: said once, not per row."""
        return self.app_key_failed > 0 and self.app_key_failed == self.keys.sampled

    @property
    def mixed(self) -> str | None:
        parts = []
        if self.keys.codec is None and self.keys.sampled:
            parts.append(f"keys mix codecs ({self.keys.summary()})")
        if self.values.codec is None and self.values.sampled:
            parts.append(f"values mix codecs ({self.values.summary()})")
        return "; ".join(parts) + ": each record is decoded on its own" if parts else None

    def notes(self) -> list[str]:
        """One line per finding, for a table's detail (TUI) and ``--json`` ``sampled``."""
        def side(codec: str | None, declared: str | None) -> str:
            if codec is None:
                return "mixed"
            return f"{codec} ({'declared' if codec == declared else 'inferred'})"

        out = [f"keys {side(self.key_codec, self.declared[0])}, values {side(self.value_codec, self.declared[1])}"
               f", from {self.sampled} sampled records ({self.where})"]
        if self.mixed:
            out.append(self.mixed)
        for which, inf in (("keys", self.keys), ("values", self.values)):
            if inf.codec and inf.misfits:
                out.append(f"{inf.misfits} of {inf.sampled} sampled {which} are not {decode.describe(inf.codec)} "
                           f"like the rest of this table ({inf.example})")
        if self.app_keys_broken:
            how = (f"the built-in decoder of the declared type ({self.key_codec})" if self.key_codec and
                   self.key_codec == self.declared[0] else f"the inferred codec ({self.key_codec})"
                   if self.key_codec else "inspection, record by record")
            out.append(f"the application's key decoder ({self.app_class}) raises on all {self.app_key_failed} "
                       f"sampled keys ({self.app_key_error}); keys are shown by {how}")
        elif self.app_key_failed:
            out.append(f"the application's key decoder raises on {self.app_key_failed} of {self.keys.sampled} "
                       f"sampled keys ({self.app_key_error})")
        if self.app_value_failed:
            out.append(f"the application's value decoder or marshal() raises on {self.app_value_failed} of "
                       f"{self.values.sampled} sampled values ({self.app_value_error})")
        if self.big_values:
            out.append(f"{self.big_values} sampled values over {PREVIEW_BYTES // 1024} KiB were not inspected")
        return out

    def to_json(self) -> dict[str, Any]:
        return {"key_codec": self.key_codec, "value_codec": self.value_codec, "mixed": self.mixed,
                "key_misfits": self.keys.misfits if self.key_codec else 0,
                "value_misfits": self.values.misfits if self.value_codec else 0,
                "app_key_failed": self.app_key_failed, "app_key_error": self.app_key_error,
                "app_value_failed": self.app_value_failed, "app_value_error": self.app_value_error,
                "where": self.where, "notes": self.notes()}


class Codec:
    """How one table's records are decoded: the application's class (``--import``) and the
    table's built-in codecs (its :class:`TableProfile`), with inspection for the rest."""

    def __init__(self, table: Table, klass: type | None, opts: Options, fbs):
        self.table = table
        self.klass = klass
        self.allow_pickle = opts.allow_pickle
        self.fbs = fbs
        self.fbs_type = fbs.type_for(table.name, opts.fbs_types) if fbs is not None else None
        self.pmap: Any = None  # the application's PersistentMap (``--import``): its own decoders
        self.pickle = False
        self.declared: tuple[str | None, str | None] = (None, None)
        self.profile: TableProfile | None = None
        if klass is not None:
            from zlmdb import _types

            self.pickle = issubclass(klass, (_types._PickleValuesMixin, _types._Pickle5ValuesMixin))
            self.pmap = _instantiate(klass, table.slot)
            key, value = inference.declared(klass)
            if getattr(klass, "_zlmdb_compress", None):
                value = None  # compressed values: inferred from what is stored
            if value == "flatbuffers" and self.fbs_type:
                value = f"flatbuffers:{self.fbs_type}"
            self.declared = (key, value)

    @property
    def name(self) -> str:
        if self.klass is not None:
            return f"{self.klass.__module__}.{self.klass.__name__}"
        return "built-in"

    # -- the table's codec, from a sample --------------------------------------------

    def learn(self, samples: list[tuple[bytes, bytes | None]],
              where: str) -> tuple[TableProfile, list[tuple[Any, Any]]]:
        """Settle the table's codecs from sampled (key after the slot prefix, value) pairs; a value
        of None was too large to inspect. Returns the profile, and per sample how the adopted codecs
        read its key and value, as ``(codec, reading)`` (:data:`NOT_FITTED` where no codec was
        adopted or the value is None): the sample's records are decoded without reading each again."""
        keys = [k for k, _ in samples]
        values = [v for _, v in samples if v is not None]
        dkey, dvalue = self.declared
        kinf = self._infer(keys, dkey, decode.key_as, inference.infer_keys)
        vinf = self._infer(values, dvalue, lambda c, b: decode.value_as(c, b, self.allow_pickle, self.fbs),
                           lambda vs: inference.infer_values(vs, self.allow_pickle, self.fbs, self.fbs_type))
        def readings(inf: inference.Inferred, n: int) -> list[Any]:
            return [NOT_FITTED] * n if inf.fitted is None else [(inf.codec, r) for r in inf.fitted]

        vfit = iter(readings(vinf, len(values)))  # the values not None, in order
        fitted = [(kf, NOT_FITTED if v is None else next(vfit))
                  for kf, (_, v) in zip(readings(kinf, len(keys)), samples, strict=True)]
        kinf.fitted = vinf.fitted = None  # the profile outlives the sample
        prof = TableProfile(len(samples), where, kinf, vinf, big_values=len(samples) - len(values),
                            app_class=self.name if self.klass is not None else None, declared=self.declared)
        if self.pmap is not None:
            for k in keys:
                try:
                    self.pmap._deserialize_key(k)
                except Exception as e:  # noqa: BLE001 - the application's decoder failed
                    prof.app_key_failed += 1
                    prof.app_key_error = prof.app_key_error or _exc(e)
            if not (self.pickle and not self.allow_pickle):
                for v in values:
                    try:
                        self._app_value(v)
                    except Exception as e:  # noqa: BLE001
                        prof.app_value_failed += 1
                        prof.app_value_error = prof.app_value_error or _exc(e)
        self.profile = prof
        return prof, fitted

    @staticmethod
    def _infer(samples: list[bytes], declared: str | None, fits, infer) -> inference.Inferred:
        if declared is not None:
            inf = inference.infer(samples, lambda b: ([declared], None), fits, [])
            if inf.codec is not None or not samples:
                return inf
        return infer(samples)

    def _key(self, kb: bytes, fitted: Any = NOT_FITTED) -> tuple[Any, str, str | None]:
        codec = self.profile.key_codec if self.profile else None
        if codec is not None:
            try:
                return _reading(codec, fitted, lambda: decode.key_as(codec, kb)), codec, None
            except decode.Mismatch as e:
                # a text key that is not UTF-8 is shown as its bytes, not guessed into other parts
                k = decode.Decoded(values.hexs(kb), "bytes") if codec == "string" else decode.decode_key(kb)
                return k.value, k.decoder, f"key is not {decode.describe(codec)} like the rest of this table: {e}"
        k = decode.decode_key(kb)
        return k.value, k.decoder, k.error and f"key: {k.error}"

    def _value(self, raw_value: bytes, fitted: Any = NOT_FITTED) -> tuple[Any, str, str | None]:
        codec = self.profile.value_codec if self.profile else None
        if codec is not None:
            try:
                value = _reading(codec, fitted, lambda: decode.value_as(codec, raw_value, self.allow_pickle, self.fbs))
                return value, codec, None
            except decode.Mismatch as e:
                v = decode.decode_value(raw_value, self.allow_pickle, self.fbs, self.fbs_type)
                return v.value, v.decoder, f"value is not {decode.describe(codec)} like the rest of this table: {e}"
        v = decode.decode_value(raw_value, self.allow_pickle, self.fbs, self.fbs_type)
        return v.value, v.decoder, v.error

    # -- records -------------------------------------------------------------------

    def decode(self, raw_key: bytes, raw_value: bytes, preview: int | None = None,
               fitted: tuple[Any, Any] = (NOT_FITTED, NOT_FITTED), size: int | None = None) -> Record:
        """One record as the table's codecs (or its application) read it. ``fitted``: the key and
        the value as ``(codec, reading)`` from :meth:`learn`, used where the profile's codec is
        that codec; ``size``: the stored value's size when ``raw_value`` was cut short already."""
        size = len(raw_value) if size is None else size
        truncated = preview is not None and size > preview
        value_bytes = raw_value[:preview] if truncated else raw_value
        kb = raw_key[2:]
        if truncated:
            key, kdec, kerr = self._key(kb, fitted[0])
            if self.pmap is not None:
                try:
                    key, kdec, kerr = values.jsonable(self.pmap._deserialize_key(kb), embeds=False), "app", None
                except Exception:  # noqa: BLE001 - the full record says why
                    pass
            value = f"({size} bytes; showing the first {preview} as hex) " + values.hexs(value_bytes)
            return Record(raw_key, key, value, Decoders(kdec, "preview"), kerr, size, raw_value=value_bytes,
                          truncated=True, error_kind=ErrorKind.CODEC if kerr else None)
        if self.pmap is None:
            key, kdec, kerr = self._key(kb, fitted[0])
            value, vdec, verr = self._value(raw_value, fitted[1])
            err = "; ".join(e for e in (kerr, verr) if e) or None
            return Record(raw_key, key, value, Decoders(kdec, vdec), err, size, raw_value=raw_value,
                          error_kind=ErrorKind.CODEC if err else None)
        return self._decode_app(raw_key, kb, raw_value, size)

    def _app_value(self, raw_value: bytes) -> tuple[Any, str]:
        data = self.pmap._decompress(raw_value)
        obj = self.pmap._deserialize_value(data)
        if hasattr(obj, "marshal") and callable(obj.marshal):
            return values.jsonable(_marshal(obj)), "app:marshal()"
        return values.jsonable(obj), "app"

    def _decode_app(self, raw_key: bytes, kb: bytes, raw_value: bytes, size: int) -> Record:
        errors: list[str] = []
        kind: ErrorKind | None = None
        try:
            key = values.jsonable(self.pmap._deserialize_key(kb), embeds=False)
            kdec = "app"
        except Exception as e:  # noqa: BLE001 - the application's decoder failed
            key, kdec, kerr = self._key(kb)
            kdec = "built-in:" + kdec
            if not (self.profile and self.profile.app_keys_broken):  # else said once for the table
                errors.append(f"key: {_exc(e)}")
                kind = ErrorKind.APP
            if kerr:
                _add(errors, kerr)
                kind = ErrorKind.CODEC
        fallback = None
        if self.pickle and not self.allow_pickle:
            value, vdec = "pickle (not loaded)", "pickle"
        else:
            try:
                value, vdec = self._app_value(raw_value)
            except Exception as e:  # noqa: BLE001 - unparseable value or failing marshal()
                errors.append(f"value: {_exc(e)}")
                value, vdec, verr = self._value(raw_value)
                vdec, fallback = "built-in:" + vdec, value
                kind = kind or ErrorKind.APP
                if verr:
                    _add(errors, verr)
                    kind = ErrorKind.CODEC
        return Record(raw_key, key, value, Decoders(kdec, vdec), "; ".join(errors) or None, size,
                      fallback=fallback, raw_value=raw_value, error_kind=kind if errors else None)


def _add(errors: list[str], builtin: str) -> None:
    """Add the built-in codec's error; it replaces the application's when it quotes the same exception."""
    last = errors[-1].split(": ", 1)[-1] if errors else None
    if last and last in builtin:
        errors[-1] = builtin
    else:
        errors.append(builtin)


def _exc(e: Exception) -> str:
    return f"{type(e).__name__}: {e}".rstrip(": ")


class MarshalError(Exception):
    pass


def _marshal(obj):
    try:
        return obj.marshal()
    except Exception as e:  # noqa: BLE001
        raise MarshalError(f"marshal() raised {type(e).__name__}: {e}") from None


def _instantiate(klass: Any, slot: int) -> Any:
    kw: dict[str, Any] = {"compress": klass._zlmdb_compress}
    if klass._zlmdb_marshal is not None or klass._zlmdb_parse is not None:
        kw.update(marshal=klass._zlmdb_marshal, unmarshal=klass._zlmdb_parse)
    elif klass._zlmdb_build is not None or klass._zlmdb_cast is not None:
        kw.update(build=klass._zlmdb_build, cast=klass._zlmdb_cast)
    try:
        return klass(slot, **kw)
    except TypeError:
        return klass(slot)
