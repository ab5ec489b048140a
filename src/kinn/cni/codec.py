"""JSON as the CNI plugins speak it (config on stdin, result on stdout, flannel's saved delegate
configs), without importing the json package.

`import json` costs ~15 ms: json.decoder compiles regular expressions when imported, which pulls in
`re` and `enum`. A plugin pays that at every run, so every pod pays it at CNI ADD and again at DEL,
where a compiled plugin pays nothing. json's own C accelerator, `_json`, scans and encodes without
either; this module drives it with json.loads' and json.dumps' default settings, so what it reads
and writes is what they would. Invalid input raises ValueError (json.JSONDecodeError) as json does.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False  # no typing at run time (see kinn.cni)
if TYPE_CHECKING:
    from typing import Any

_WHITESPACE = " \t\n\r"  # JSON's insignificant whitespace (RFC 8259 §2)
_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class _DecoderSettings:
    """The attributes `_json.make_scanner` reads, as json.JSONDecoder() sets them."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_CONSTANTS.__getitem__)


def _unserializable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_scan = _json.make_scanner(_DecoderSettings())


def loads(text: str | bytes) -> Any:
    """One JSON document (UTF-8 if bytes), surrounded by nothing but whitespace."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as stop:
        raise _decode_error("Expecting value", text, stop.value) from None
    end += len(text[end:]) - len(text[end:].lstrip(_WHITESPACE))
    if end != len(text):
        raise _decode_error("Extra data", text, end)
    return value


def dumps(value: Any) -> str:
    """`value` as JSON text, exactly as json.dumps(value) writes it."""
    # markers (a fresh circular-reference check), default, string encoder, indent, key and item
    # separators, sort_keys, skipkeys, allow_nan: json.dumps' defaults.
    encode = _json.make_encoder({}, _unserializable, _json.encode_basestring_ascii, None, ": ", ", ",
                                False, False, True)
    return "".join(encode(value, 0))


def _decode_error(message: str, text: str, position: int) -> ValueError:
    """json's own error type, with line and column; imported only on this (rare) path."""
    from json import JSONDecodeError

    return JSONDecodeError(message, text, position)
