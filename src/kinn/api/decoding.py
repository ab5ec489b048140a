"""Request-body decoding with the API server's strict and non-strict semantics.

Upstream decodes a body into the kind's Go struct (k8s.io/apimachinery runtime/serializer/json with
sigs.k8s.io/json): fields the struct lacks are silently dropped, duplicate keys keep the last value,
and a value of the wrong JSON type aborts with a `json: cannot unmarshal ...` error. With
`fieldValidation=Strict` the dropped and duplicate fields become a 400; with `Warn` (the default
since 1.23) each becomes a `Warning:` header. kinn has no Go structs, so `check_fields` walks the
object against the vendored OpenAPI schema of the kind and reproduces those outcomes and messages.

The API server calls `decode_object` on the raw body, then `check_fields` with the request's
`fieldValidation`, and sends each returned warning as `Warning: <warning_header(text)>`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Literal

import yaml

from kinn.api.errors import StatusError, bad_request
from kinn.api.openapi import schemas
from kinn.api.patch.json_patch import identical_json
from kinn.api.quantity import QuantityError, canonical_quantity

Mode = Literal["Strict", "Warn", "Ignore"]
Schema = dict[str, Any]

_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_MICRO_TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
# What meta.Interpret unmarshals first to find apiVersion and kind; its Go type is in the error text.
_TYPE_META_GO_TYPE = 'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'


class _DuplicateKeys(dict):
    """A JSON object that repeated keys: the last value won, as in encoding/json, and `key_order`
    keeps every occurrence so the walk reports each repeat where the strict decoder meets it."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.key_order = [key for key, _ in pairs]


class DecodedObject(dict):
    """A decoded body, remembering what only the raw text shows: the order of its top-level keys
    (with repeats) and what YAMLToJSONStrict would report (duplicate keys anywhere in YAML)."""

    key_order: list[str] = []
    yaml_errors: tuple[str, ...] = ()


# ---------------------------------------------------------------- parsing


class _Unparsable(Exception):
    """The body is no object at all, so not even its kind can be read (the message is Go's)."""

    def __init__(self, message: str, finding_kind: bool = True) -> None:
        super().__init__(message)
        self.finding_kind = finding_kind  # json's meta.Interpret failed, not the YAML-to-JSON step


def decode_object(raw: bytes, content_type: str, into: str = "") -> DecodedObject:
    """Parse a JSON or YAML request body into an object; 400 BadRequest if it is not one.

    YAML is read the way sigs.k8s.io/yaml does (YAML 1.1 scalars, timestamps kept as strings, only
    the first document of a stream); its duplicate keys are remembered for `check_fields`. With
    `into` (the kind the endpoint decodes into) the error reads as the API server's.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        if media in ("application/yaml", "application/apply-patch+yaml", "text/yaml"):
            value, yaml_errors = _load_yaml(raw)
        else:
            value, yaml_errors = _load_json(raw), ()
        if value is None:  # `null` or an empty YAML body decodes to the zero object, as in Go
            value = {}
        if not isinstance(value, dict):
            raise _Unparsable(f"json: cannot unmarshal {_json_kind(value)} into Go value of type {_TYPE_META_GO_TYPE}")
    except _Unparsable as err:
        raise bad_request(_unrecognized(err, raw, into) if into else str(err)) from None
    decoded = DecodedObject(value)
    decoded.yaml_errors = tuple(yaml_errors)
    if isinstance(value, _DuplicateKeys):
        decoded.key_order = value.key_order
    return decoded


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    return _DuplicateKeys(pairs) if len(value) < len(pairs) else value


def _load_json(raw: bytes) -> Any:
    try:
        return json.loads(raw, object_pairs_hook=_object_pairs)
    except UnicodeDecodeError as err:
        raise _Unparsable(f"invalid JSON body: {err}") from None
    except json.JSONDecodeError as err:
        raise _Unparsable(_json_syntax_message(err)) from None


def _unrecognized(err: _Unparsable, raw: bytes, into: str) -> str:
    """transformDecodeError when the body names no kind, with its summarizeData(body, 30)."""
    base = f"couldn't get version/kind; json parse error: {err}" if err.finding_kind else str(err)
    head = raw[:30]
    summary = head.decode(errors="replace") if raw.startswith(b"{") else head.hex()
    if not raw:
        summary = "<empty>"
    elif len(raw) > 30:
        summary += " ..."
    return f"the object provided is unrecognized (must be of type {into}): {base} ({summary})"


def _json_syntax_message(err: json.JSONDecodeError) -> str:
    """encoding/json's wording: `invalid character 'x' looking for beginning of value`."""
    if err.pos >= len(err.doc.rstrip()):
        return "unexpected end of JSON input"
    char = err.doc[err.pos]
    literal = _LITERALS.get(char) if err.msg.startswith("Expecting value") else None
    if literal:  # Go names the first byte that breaks a literal it has started to read
        for offset, expected in enumerate(literal):
            got = err.doc[err.pos + offset:err.pos + offset + 1]
            if not got:
                return "unexpected end of JSON input"
            if got != expected:
                return f"invalid character {got!r} in literal {literal} (expecting {expected!r})"
    return f"invalid character {char!r} {_json_context(err.msg)}"


_LITERALS = {"n": "null", "t": "true", "f": "false"}


def _json_context(python_message: str) -> str:
    if python_message.startswith("Expecting property name"):
        return "looking for beginning of object key string"
    if python_message.startswith("Expecting ':'"):
        return "after object key"
    if python_message.startswith("Expecting ',' delimiter"):
        return "after object key:value pair"
    if python_message.startswith("Extra data"):
        return "after top-level value"
    return "looking for beginning of value"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader (C-accelerated when available) that records duplicate keys like yaml.v2's strict mode."""

    def __init__(self, stream: bytes) -> None:
        super().__init__(stream)
        self.duplicate_errors: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            json_key = _json_key(key)
            if json_key in mapping:
                shown = f'"{key}"' if isinstance(key, str) else json_key
                self.duplicate_errors.append(f"line {key_node.start_mark.line + 1}: key {shown} already set in map")
            mapping[json_key] = self.construct_object(value_node, deep=True)
        return mapping


# yaml.v2 hands timestamps to an interface{} as strings; only PyYAML turns them into datetimes.
_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_mapping)


def _json_key(key: Any) -> str:
    """sigs.k8s.io/yaml turns non-string keys into their YAML spelling (`true`, `1`, `null`)."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def _load_yaml(raw: bytes) -> tuple[Any, list[str]]:
    loader = _Loader(raw)
    try:
        # yaml.v2 Unmarshal reads the first document of a stream and ignores the rest.
        value = loader.construct_document(loader.get_node()) if loader.check_node() else None
    except yaml.YAMLError as err:
        raise _Unparsable(f"error converting YAML to JSON: yaml: {_yaml_problem(err)}", finding_kind=False) from None
    finally:
        loader.dispose()
    errors = []
    if loader.duplicate_errors:
        errors.append("error converting YAML to JSON: yaml: unmarshal errors:\n  "
                      + "\n  ".join(loader.duplicate_errors))
    return _jsonable(value), errors


def _yaml_problem(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    return f"line {mark.line + 1}: {problem}" if mark is not None else problem


def _jsonable(value: Any) -> Any:
    """What YAMLToJSON makes of a YAML value: integral floats stay numbers, bytes become base64."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


# ---------------------------------------------------------------- schema walk


class _TypeError(Exception):
    """A fatal decoding error; the message is what encoding/json (or a custom unmarshaler) says."""


@dataclass
class _Walk:
    """Strict-decoding findings collected while walking one object, in document order."""

    strict_errors: list[str] = field(default_factory=list)


def check_fields(obj: dict[str, Any], group: str, version: str, kind: str, mode: Mode = "Warn",
                 checked: dict[str, Any] | None = None) -> list[str]:
    """Prune `obj` to what the kind's schema knows and normalize it as a Go round trip would.

    Returns the warnings to send (mode Warn), or none (Ignore); raises a 400 StatusError for type
    errors in any mode and for unknown or duplicate fields in Strict mode. `checked` is a version
    of the object that went through here before (the stored one a patch was applied to): its
    top-level members that `obj` has unchanged are not walked again — a status patch leaves the
    spec and the metadata as they were, and they were most of the walk.
    """
    schema = schemas.for_kind(group, version, kind)
    if schema is None:
        return []
    walk = _Walk(list(getattr(obj, "yaml_errors", ())))
    unchanged = _unchanged_members(obj, checked)
    try:
        cleaned = _struct({k: v for k, v in obj.items() if k not in unchanged} if unchanged else obj,
                          _GoType.of(schema), _Context(kind), walk)
    except _TypeError as err:
        raise _cannot_handle(kind, version, str(err)) from None
    if unchanged:
        cleaned = {k: v if k in unchanged else cleaned[k] for k, v in obj.items() if k in unchanged or k in cleaned}
    obj.clear()
    obj.update(cleaned)
    if isinstance(obj, DecodedObject):  # reported once; the object is now clean
        obj.key_order, obj.yaml_errors = [], ()
    if not walk.strict_errors or mode == "Ignore":
        return []
    if mode == "Strict":
        raise _cannot_handle(kind, version, "strict decoding error: " + ", ".join(walk.strict_errors))
    return walk.strict_errors


def _unchanged_members(obj: dict[str, Any], checked: dict[str, Any] | None) -> set[str]:
    """Objects and lists among `obj`'s members that are, to the type of every value, the ones in
    `checked` (a plain decoded object; a body that repeated keys is always walked whole)."""
    if checked is None or type(obj) is not dict:
        return set()
    return {key for key, value in obj.items()
            if type(value) in (dict, list) and key in checked and identical_json(value, checked[key])}


def decode(raw: bytes, content_type: str, group: str, version: str, kind: str,
           mode: Mode = "Warn") -> tuple[dict[str, Any], list[str]]:
    """`decode_object` then `check_fields`: the object to store and the warnings to send."""
    obj = decode_object(raw, content_type)
    warnings = check_fields(obj, group, version, kind, mode)
    return dict(obj), warnings


def _cannot_handle(kind: str, version: str, why: str) -> StatusError:
    """transformDecodeError in the apiserver's create/update/patch handlers."""
    return bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {why}')


_FIELD, _ENTRY, _INDEX = "field", "entry", "index"


class _Context:
    """Where the walk is: the innermost Go struct, the JSON field path (no indices, as Go reports
    type errors) and the strict path (with `[i]`, as sigs.k8s.io/json reports unknown fields).
    A step up from its parent: a struct field, a map entry (strict path only) or a list index
    (likewise); the paths are spelled out only when an error needs them."""

    __slots__ = ("struct", "parent", "step", "name")

    def __init__(self, struct: str, parent: "_Context | None" = None, step: str = "", name: Any = None) -> None:
        self.struct = struct
        self.parent = parent
        self.step = step
        self.name = name

    def child(self, name: str) -> "_Context":
        return _Context(self.struct, self, _FIELD, name)

    def entry(self, key: str) -> "_Context":
        """Go names a map value's errors after the map field itself; strict paths add the key."""
        return _Context(self.struct, self, _ENTRY, key)

    def index(self, i: int) -> "_Context":
        return _Context(self.struct, self, _INDEX, i)

    def within(self, struct: str) -> "_Context":
        """The same place, inside a value of Go struct type `struct`."""
        return _Context(struct, self.parent, self.step, self.name)

    @property
    def fields(self) -> tuple[str, ...]:
        if self.parent is None:
            return ()
        return self.parent.fields + (self.name,) if self.step == _FIELD else self.parent.fields

    @property
    def strict_path(self) -> str:
        if self.parent is None:
            return ""
        path = self.parent.strict_path
        if self.step == _INDEX:
            return f"{path}[{self.name}]"
        return f"{path}.{self.name}" if path else self.name

    def type_error(self, value: Any, go_type: str) -> _TypeError:
        return _TypeError(f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
                          f"{self.struct}.{'.'.join(self.fields)} of type {go_type}")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _GoType(schemas.Node):
    """The Go type a schema node decodes into, and the walk step that decodes it (chosen once)."""

    __slots__ = ("decode", "struct", "format")

    def __init__(self, schema: Schema | None) -> None:
        super().__init__(schema)
        definition = self.definition or {}
        self.format = definition.get("format")
        self.struct = self.name.rpartition(".")[2]
        self.decode = _step(self.name, definition)


Step = Callable[[Any, _GoType, _Context, _Walk], Any]


def _step(name: str, definition: Schema) -> Step:
    if name == _QUANTITY:
        return _quantity
    if name == _INT_OR_STRING:
        return _int_or_string
    if definition.get("x-kubernetes-preserve-unknown-fields"):
        return _opaque
    kind = definition.get("type")
    if "properties" in definition:
        return _struct_value
    if kind == "object":
        return _map if isinstance(definition.get("additionalProperties"), dict) else _opaque
    return _SCALAR_STEPS.get(kind, _opaque)


def _go_type(node: _GoType) -> str:
    """The Go type name encoding/json prints: `int32`, `[]v1.Container`, `map[string]string`."""
    if node.name:
        package, _, type_name = node.name.rpartition(".")
        return f"{package.rpartition('.')[2]}.{type_name}"
    schema = node.definition or {}
    kind = schema.get("type")
    if kind == "array":
        return "[]" + _go_type(node.items)
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "map[string]" + _go_type(node.values)
    if kind == "string":
        return "[]uint8" if schema.get("format") == "byte" else "string"
    if kind == "integer":
        return schema.get("format") or "int64"
    if kind == "boolean":
        return "bool"
    if kind == "number":
        return "float64"
    return "interface {}"


def _struct_value(value: Any, node: _GoType, ctx: _Context, walk: _Walk) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ctx.type_error(value, _go_type(node))
    return _struct(value, node, ctx.within(node.struct) if node.struct else ctx, walk)


def _struct(value: dict[str, Any], node: _GoType, ctx: _Context, walk: _Walk) -> dict[str, Any]:
    """Known fields are decoded, unknown ones dropped and reported, repeats reported; a null field
    is the Go zero value, which omitempty leaves out of the stored object. So is an empty map or
    list in an omitempty field (kube-openapi marks the others `required`): `labels: {}` is not kept."""
    properties = node.properties
    required = (node.definition or {}).get("required", ())
    out: dict[str, Any] = {}
    for key, first in _occurrences(value):
        if not first:
            walk.strict_errors.append(f'duplicate field "{ctx.child(key).strict_path}"')
        elif key not in properties:
            walk.strict_errors.append(f'unknown field "{ctx.child(key).strict_path}"')
        elif value[key] is not None:
            child = node.member(key)
            decoded = child.decode(value[key], child, ctx.child(key), walk)
            if decoded or key in required or child.decode not in (_map, _array):
                out[key] = decoded
    return out


def _occurrences(value: dict[str, Any]) -> Iterable[tuple[str, bool]]:
    """Each key in document order, repeats included, flagged True at its first occurrence."""
    order = _key_order(value)
    if not order:
        return zip(value, itertools.repeat(True))
    return _repeats(order)


def _key_order(value: dict[str, Any]) -> list[str] | None:
    """The keys as the body spelled them, when that differs from the dict's (repeats)."""
    return None if type(value) is dict else getattr(value, "key_order", None)


def _repeats(order: list[str]) -> Iterator[tuple[str, bool]]:
    seen: set[str] = set()
    for key in order:
        yield key, key not in seen
        seen.add(key)


def _map(value: Any, node: _GoType, ctx: _Context, walk: _Walk) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ctx.type_error(value, _go_type(node))
    _report_duplicates(value, ctx, walk)
    values = node.values
    return {key: _zero(values) if item is None else values.decode(item, values, ctx.entry(key), walk)
            for key, item in value.items()}


def _array(value: Any, node: _GoType, ctx: _Context, walk: _Walk) -> list[Any]:
    if not isinstance(value, list):
        raise ctx.type_error(value, _go_type(node))
    items = node.items
    return [_zero(items) if item is None else items.decode(item, items, ctx.index(i), walk)
            for i, item in enumerate(value)]


def _zero(node: _GoType) -> Any:
    """encoding/json leaves a null list element or map value at its type's zero value."""
    if node.name in (_QUANTITY, _INT_OR_STRING):
        return "0" if node.name == _QUANTITY else 0
    kind = (node.definition or {}).get("type")
    return {"string": "", "integer": 0, "boolean": False, "number": 0, "array": []}.get(kind or "", {})


def _opaque(value: Any, node: _GoType | None, ctx: _Context, walk: _Walk) -> Any:
    """Raw JSON (RawExtension, FieldsV1, preserved unknown fields): no schema, but still no duplicates."""
    if _plain(value):
        return value  # nothing repeated anywhere inside (the usual case: every managedFields entry)
    if isinstance(value, dict):
        _report_duplicates(value, ctx, walk)
        return {key: _opaque(item, None, ctx.entry(key), walk) for key, item in value.items()}
    if isinstance(value, list):
        return [_opaque(item, None, ctx.index(i), walk) for i, item in enumerate(value)]
    return value


def _plain(value: Any) -> bool:
    """No object inside `value` repeated a key: only plain dicts (a body's objects with repeats are
    decoded as a dict subclass that remembers them)."""
    if type(value) is dict:
        return all(_plain(item) for item in value.values())
    if type(value) is list:
        return all(_plain(item) for item in value)
    return not isinstance(value, (dict, list))


def _report_duplicates(value: dict[str, Any], ctx: _Context, walk: _Walk) -> None:
    order = _key_order(value)
    if order:
        walk.strict_errors.extend(f'duplicate field "{ctx.entry(key).strict_path}"'
                                  for key, first in _repeats(order) if not first)


def _int_or_string(value: Any, node: _GoType, ctx: _Context, walk: _Walk) -> Any:
    return value if isinstance(value, str) else _integer(value, "int32", ctx)


def _int_field(value: Any, node: _GoType, ctx: _Context, walk: _Walk) -> int:
    return _integer(value, node.format or "int64", ctx)


def _integer(value: Any, go_type: str, ctx: _Context) -> int:
    """encoding/json rejects non-numbers, fractions and out-of-range numbers (`number 1.5`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ctx.type_error(value, go_type)
    low, high = _INT_RANGES.get(go_type, _INT_RANGES["int64"])
    if isinstance(value, float) or not low <= value <= high:
        raise _TypeError(f"json: cannot unmarshal number {value!r} into Go struct field "
                         f"{ctx.struct}.{'.'.join(ctx.fields)} of type {go_type}")
    return value


def _boolean(value: Any, node: _GoType, ctx: _Context, walk: _Walk) -> bool:
    if not isinstance(value, bool):
        raise ctx.type_error(value, "bool")
    return value


def _number(value: Any, node: _GoType, ctx: _Context, walk: _Walk) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ctx.type_error(value, "float64")
    return value


def _string(value: Any, node: _GoType, ctx: _Context, walk: _Walk) -> str:
    if not isinstance(value, str):
        raise ctx.type_error(value, "[]uint8" if node.format == "byte" else "string")
    if node.format == "byte":
        return _base64(value)
    if node.format == "date-time":
        return _timestamp(value, micro=node.name == _MICRO_TIME)
    return value


_SCALAR_STEPS: dict[str, Step] = {
    "array": _array,
    "string": _string,
    "integer": _int_field,
    "boolean": _boolean,
    "number": _number,
}


def _quantity(value: Any, node: _GoType, ctx: _Context, walk: _Walk) -> str:
    """resource.Quantity accepts a string or a bare number and is stored in canonical form."""
    text = value if isinstance(value, str) else json.dumps(value)
    try:
        return canonical_quantity(text.strip())
    except QuantityError as err:
        raise _TypeError(str(err)) from None


_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _base64(text: str) -> str:
    """[]byte fields hold standard padded base64; report a bad byte at Go's offset."""
    compact = text.replace("\r", "").replace("\n", "")
    try:
        decoded = base64.b64decode(compact, validate=True)
    except binascii.Error:
        raise _TypeError(f"illegal base64 data at input byte {_base64_error_offset(compact)}") from None
    return base64.b64encode(decoded).decode()


def _base64_error_offset(text: str) -> int:
    valid = _BASE64.match(text)
    end = valid.end() if valid else 0
    if end < len(text):
        return end
    body = text.rstrip("=")
    return len(body) - len(body) % 4


_LAYOUT = "2006-01-02T15:04:05Z07:00"
# time.RFC3339 element by element; seconds may carry a fraction the layout does not spell.
_LAYOUT_ELEMENTS = tuple((element, re.compile(pattern)) for element, pattern in (
    ("2006", r"\d{4}"), ("-", "-"), ("01", r"\d{2}"), ("-", "-"), ("02", r"\d{2}"), ("T", "T"),
    ("15", r"\d{2}"), (":", ":"), ("04", r"\d{2}"), (":", ":"), ("05", r"\d{2}(?:\.\d+)?"),
    ("Z07:00", r"Z|[+-]\d{2}:\d{2}")))
# Already what marshalling writes back (UTC, seconds or microseconds), as every timestamp a
# component or the server itself wrote is: then only the calendar needs checking.
_CANONICAL = {False: re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"),
              True: re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")}


@functools.lru_cache(maxsize=4096)
def _is_canonical(text: str, micro: bool) -> bool:
    """Already as marshalling writes it, and a real date. Remembered: the few seconds of a burst
    of writes recur in every object, condition and managedFields entry written in them."""
    if not _CANONICAL[micro].fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text[:-1])
        return True
    except ValueError:
        return False  # out of range: the general path says how, as Go does


def _timestamp(text: str, micro: bool) -> str:
    """metav1.Time/MicroTime parse RFC 3339 and marshal back in UTC (seconds or microseconds);
    a bad value fails with time.Parse's message."""
    if _is_canonical(text, micro):
        return text
    prefix = f'parsing time "{text}"'
    position = 0
    for element, pattern in _LAYOUT_ELEMENTS:
        match = pattern.match(text, position)
        if not match:
            raise _TypeError(f'{prefix} as "{_LAYOUT}": cannot parse "{text[position:]}" as "{element}"')
        position = match.end()
    if position < len(text):
        raise _TypeError(f'{prefix}: extra text: "{text[position:]}"')
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        unit = "month" if not 1 <= int(text[5:7]) <= 12 else "day"
        raise _TypeError(f"{prefix}: {unit} out of range") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- warnings


def warning_header(text: str) -> str:
    """The value of one `Warning` response header: code 299, agent `-`, Go-quoted text
    (k8s.io/apiserver/pkg/warning), which kubectl prints as `Warning: <text>`."""
    return "299 - " + json.dumps(text, ensure_ascii=False)


def field_validation(value: str | None) -> Mode:
    """The directive of a request's `fieldValidation` query parameter; empty means Warn (1.23+)."""
    return (value or "Warn")  # type: ignore[return-value]
