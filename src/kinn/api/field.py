"""Field paths and field errors, as k8s.io/apimachinery/pkg/util/validation/field.

Validation code collects a list of `FieldError`s; the API edge turns them into one 422 Invalid
Status whose message and causes are worded exactly as the Kubernetes API server words them,
because kubectl prints them verbatim and users grep for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable

_OMIT = object()


class Path:
    """An immutable path into an object, rendered like `spec.containers[0].ports[1].name`."""

    __slots__ = ("_parts",)

    def __init__(self, *names: str) -> None:
        self._parts: tuple[str, ...] = tuple(names)

    @classmethod
    def _of(cls, parts: tuple[str, ...]) -> "Path":
        path = cls()
        path._parts = parts
        return path

    def child(self, *names: str) -> "Path":
        return Path._of(self._parts + tuple(names))

    def index(self, i: int) -> "Path":
        return Path._of(self._parts + (f"[{i}]",))

    def key(self, k: str) -> "Path":
        return Path._of(self._parts + (f"[{k}]",))

    def __str__(self) -> str:
        out = ""
        for part in self._parts:
            if part.startswith("[") or not out:
                out += part
            else:
                out += "." + part
        return out

    def __repr__(self) -> str:
        return f"Path({str(self)!r})"


class ErrorType(Enum):
    """The wording of each type is the one `field.ErrorType.String()` returns."""

    NOT_FOUND = ("FieldValueNotFound", "Not found")
    REQUIRED = ("FieldValueRequired", "Required value")
    DUPLICATE = ("FieldValueDuplicate", "Duplicate value")
    INVALID = ("FieldValueInvalid", "Invalid value")
    NOT_SUPPORTED = ("FieldValueNotSupported", "Unsupported value")
    FORBIDDEN = ("FieldValueForbidden", "Forbidden")
    TOO_LONG = ("FieldValueTooLong", "Too long")
    TOO_MANY = ("FieldValueTooMany", "Too many")
    INTERNAL = ("InternalError", "Internal error")
    TYPE_INVALID = ("FieldValueTypeInvalid", "Invalid value")

    @property
    def reason(self) -> str:
        return self.value[0]

    @property
    def text(self) -> str:
        return self.value[1]


# Types whose message never shows the offending value (upstream ErrorBody omits it).
_VALUELESS = {ErrorType.REQUIRED, ErrorType.FORBIDDEN, ErrorType.TOO_LONG, ErrorType.INTERNAL}


def format_value(value: Any) -> str:
    """Render a value the way Go's `%q`/`%d`/`%v` does in upstream messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return "null"
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class FieldError:
    type: ErrorType
    field: str
    value: Any = _OMIT
    detail: str = ""

    def body(self) -> str:
        """The message without the field path (upstream `ErrorBody`)."""
        if self.type in _VALUELESS or self.value is _OMIT:
            text = self.type.text
        else:
            text = f"{self.type.text}: {format_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()

    def cause(self) -> dict[str, str]:
        return {"reason": self.type.reason, "message": self.body(), "field": self.field}


def required(path: Path | str, detail: str = "") -> FieldError:
    return FieldError(ErrorType.REQUIRED, str(path), detail=detail)


def invalid(path: Path | str, value: Any, detail: str = "") -> FieldError:
    return FieldError(ErrorType.INVALID, str(path), value, detail)


def not_supported(path: Path | str, value: Any, supported: Iterable[str]) -> FieldError:
    options = ", ".join(json.dumps(s) for s in supported)
    return FieldError(ErrorType.NOT_SUPPORTED, str(path), value, f"supported values: {options}")


def forbidden(path: Path | str, detail: str) -> FieldError:
    return FieldError(ErrorType.FORBIDDEN, str(path), detail=detail)


def duplicate(path: Path | str, value: Any) -> FieldError:
    return FieldError(ErrorType.DUPLICATE, str(path), value)


def not_found(path: Path | str, value: Any) -> FieldError:
    return FieldError(ErrorType.NOT_FOUND, str(path), value)


def too_long(path: Path | str, max_length: int) -> FieldError:
    return FieldError(ErrorType.TOO_LONG, str(path), detail=f"must have at most {max_length} bytes")


def too_many(path: Path | str, actual: int, max_items: int) -> FieldError:
    return FieldError(ErrorType.TOO_MANY, str(path), actual, f"must have at most {max_items} items")


def internal(path: Path | str, detail: str) -> FieldError:
    return FieldError(ErrorType.INTERNAL, str(path), detail=detail)


ErrorList = list[FieldError]
