"""Message descriptors: field number → JSON name, type, and how Go's JSON encoder would emit it.

A descriptor is written as data, one line per field in Go struct order (which is the JSON key
order), with the numbers of upstream `generated.proto`:

    1: "replicas int32?"        scalar behind a pointer: emitted whenever it was sent, even 0
    2: "selector LabelSelector?"  pointer to a struct: emitted only when sent
    3: "template PodTemplateSpec" plain struct: always emitted (`omitempty` never drops a struct)
    5: "minReadySeconds int32"  `omitempty` scalar: emitted only when non-zero
    3: "containerPort int32!"   no `omitempty`: always emitted, zero included
    1: "rules []PolicyRule!"    no `omitempty` on a slice: `null` when empty, as Go prints a nil slice
    2: "data {}bytes"           map with string keys (protobuf map entries: key 1, value 2)
    2: "... VolumeSource"       an embedded struct (`json:",inline"`): its keys join the parent's

gogo-protobuf writes every non-pointer field, zero or not, so the wire alone cannot tell "unset"
from "zero"; these flags recover what the JSON body would have said. Field numbers missing from a
descriptor are skipped, as protobuf skips unknown fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCALARS = frozenset({"string", "int32", "int64", "bool", "bytes"})
# Types with their own JSON form rather than an object: see `decode.SPECIAL`.
SPECIAL = frozenset({"Time", "IntOrString", "Quantity"})
INLINE = "..."

_FIELD = re.compile(r"^(?P<name>\.\.\.|[A-Za-z]\w*) (?P<shape>\[\]|\{\})?(?P<type>\w+)(?P<flags>[?!]*)$")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    repeated: bool = False
    map: bool = False
    pointer: bool = False
    always: bool = False

    @property
    def inline(self) -> bool:
        return self.name == INLINE

    @property
    def scalar(self) -> bool:
        return self.type in SCALARS


@dataclass(frozen=True)
class Message:
    name: str
    fields: dict[int, Field]


MESSAGES: dict[str, Message] = {}


def parse_field(spec: str) -> Field:
    match = _FIELD.match(spec)
    if match is None:
        raise ValueError(f"bad field spec {spec!r}")
    shape, flags = match["shape"], match["flags"]
    return Field(match["name"], match["type"], repeated=shape == "[]", map=shape == "{}",
                 pointer="?" in flags, always="!" in flags)


def define(name: str, fields: dict[int, str]) -> Message:
    """Register a message descriptor under its upstream name (unique across API groups)."""
    if name in MESSAGES:
        raise ValueError(f"message {name} defined twice")
    message = Message(name, {number: parse_field(spec) for number, spec in fields.items()})
    MESSAGES[name] = message
    return message


def lookup(name: str) -> Message:
    return MESSAGES[name]
