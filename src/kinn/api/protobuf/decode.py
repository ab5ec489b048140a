"""Turn a protobuf message into the dict its JSON encoding would have produced.

Decoding is driven by the descriptors of `schema`: each field's record(s) are converted to the JSON
value Go's encoding/json would print for the same Go struct, and keys come out in struct order.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any, Callable

from kinn.api.protobuf.schema import Field, Message, lookup
from kinn.api.protobuf.wire import WireError, iter_fields, signed
from kinn.api.timestamps import rfc3339

Raw = int | bytes
ZERO: dict[str, Any] = {"string": "", "int32": 0, "int64": 0, "bool": False, "bytes": ""}


def decode_message(data: bytes, message: Message) -> dict[str, Any]:
    records: dict[int, list[Raw]] = {}
    for number, _, value in iter_fields(data):
        if number in message.fields:
            records.setdefault(number, []).append(value)
    out: dict[str, Any] = {}
    for number, field in message.fields.items():
        try:
            _emit(out, field, records.get(number, []))
        except WireError as err:
            raise (err if field.inline else err.within(field.name)) from None
    return out


def _emit(out: dict[str, Any], field: Field, records: list[Raw]) -> None:
    """Set `out[field.name]` as Go's JSON encoder would, given the field's wire records."""
    if field.inline:
        out.update(decode_message(_last_bytes(records), lookup(field.type)))
    elif field.map:
        entries = dict(_map_entry(field.type, _as_bytes(raw)) for raw in records)
        if entries or field.always:
            out[field.name] = entries or None
    elif field.repeated:
        items = [_value(field.type, raw) for raw in records]
        if items or field.always:
            out[field.name] = items or None
    elif field.pointer:
        if records:
            out[field.name] = _value(field.type, records[-1])
        elif field.always:
            out[field.name] = None
    elif not field.scalar:
        # A struct is never dropped by `omitempty`; gogo always sends it, but be lenient when absent.
        out[field.name] = _value(field.type, _last_bytes(records))
    elif records:
        value = _value(field.type, records[-1])
        if field.always or value != ZERO[field.type]:
            out[field.name] = value
    elif field.always:
        out[field.name] = ZERO[field.type]


def _map_entry(value_type: str, data: bytes) -> tuple[str, Any]:
    """A map entry is a message with the key as field 1 and the value as field 2."""
    key: Raw = b""
    value: Raw | None = None
    for number, _, raw in iter_fields(data):
        if number == 1:
            key = raw
        elif number == 2:
            value = raw
    if value is None:
        value = 0 if value_type in ("int32", "int64", "bool") else b""
    return _string(_as_bytes(key)), _value(value_type, value)


def _value(type_: str, raw: Raw) -> Any:
    if type_ in ("int32", "int64"):
        return signed(_as_int(raw))
    if type_ == "bool":
        return _as_int(raw) != 0
    data = _as_bytes(raw)
    if type_ == "string":
        return _string(data)
    if type_ == "bytes":
        return base64.b64encode(data).decode("ascii")
    special = SPECIAL.get(type_)
    if special is not None:
        return special(data)
    return decode_message(data, lookup(type_))


def _time(data: bytes) -> str | None:
    """metav1.Time: empty means the zero time, which JSON prints as null; else RFC 3339 in UTC.

    JSON carries whole seconds only (Time drops the nanoseconds; MicroTime is another type).
    """
    if not data:
        return None
    seconds = 0
    for number, _, raw in iter_fields(data):
        if number == 1:
            seconds = signed(_as_int(raw))
    return rfc3339(datetime.fromtimestamp(seconds, timezone.utc))


def _int_or_string(data: bytes) -> int | str:
    """intstr.IntOrString {type 1 (0 Int, 1 String), intVal 2, strVal 3}: JSON is the bare value."""
    kind, int_val, str_val = 0, 0, ""
    for number, _, raw in iter_fields(data):
        if number == 1:
            kind = _as_int(raw)
        elif number == 2:
            int_val = signed(_as_int(raw))
        elif number == 3:
            str_val = _string(_as_bytes(raw))
    return str_val if kind == 1 else int_val


def _quantity(data: bytes) -> str:
    """resource.Quantity {string 1}: sent in canonical form; the zero Quantity prints as "0"."""
    text = ""
    for number, _, raw in iter_fields(data):
        if number == 1:
            text = _string(_as_bytes(raw))
    return text or "0"


SPECIAL: dict[str, Callable[[bytes], Any]] = {"Time": _time, "IntOrString": _int_or_string, "Quantity": _quantity}


def _last_bytes(records: list[Raw]) -> bytes:
    return _as_bytes(records[-1]) if records else b""


def _as_int(raw: Raw) -> int:
    if isinstance(raw, bytes):
        raise WireError("expected a varint, got a length-delimited or fixed-width value")
    return raw


def _as_bytes(raw: Raw) -> bytes:
    if isinstance(raw, int):
        raise WireError("expected a length-delimited value, got a varint")
    return raw


def _string(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("string is not valid UTF-8") from None

