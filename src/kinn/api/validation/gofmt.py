"""Values rendered the way Go's `%#v` prints them in upstream field errors.

Upstream `field.Invalid` formats any value that is not a scalar or a `fmt.Stringer` with `%#v`,
so kubectl users see `map[string]string{"app":"web"}` or
`v1.LabelSelector{MatchLabels:…, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}`. Scripts and
people grep for those exact texts, so errors about maps and structs carry the Go rendering.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from kinn.api.field import ErrorType, FieldError, Path


@dataclass(frozen=True)
class GoValuedError(FieldError):
    """A field error whose value is already rendered Go-style, so it is printed unquoted."""

    def body(self) -> str:
        text = f"{self.type.text}: {self.value}"
        return f"{text}: {self.detail}" if self.detail else text


def invalid(path: Path | str, go_value: str, detail: str) -> FieldError:
    return GoValuedError(ErrorType.INVALID, str(path), go_value, detail)


def not_supported(path: Path | str, go_value: str, supported: Iterable[str]) -> FieldError:
    options = ", ".join(json.dumps(s) for s in supported)
    return GoValuedError(ErrorType.NOT_SUPPORTED, str(path), go_value, f"supported values: {options}")


def quote(s: str) -> str:
    """Go's `%q` for the strings Kubernetes objects hold."""
    return json.dumps(s, ensure_ascii=False)


def string_map(m: Mapping[str, str] | None) -> str:
    """`map[string]string{"a":"1", "b":"2"}`: Go prints map keys sorted."""
    if m is None:
        return "map[string]string(nil)"
    return "map[string]string{" + ", ".join(f"{quote(k)}:{quote(str(v))}" for k, v in sorted(m.items())) + "}"


def string_slice(values: Iterable[str] | None, type_name: str = "string") -> str:
    if values is None:
        return f"[]{type_name}(nil)"
    return f"[]{type_name}{{" + ", ".join(quote(v) for v in values) + "}"


def struct(type_name: str, fields: Iterable[tuple[str, str]]) -> str:
    """`pkg.Type{Field:value, …}` from already rendered field values."""
    return type_name + "{" + ", ".join(f"{name}:{value}" for name, value in fields) + "}"


def pointer(type_name: str, value: Any) -> str:
    """A pointer nested in a struct prints as its address; kinn has none, so non-nil ones get a fixed one."""
    return f"(*{type_name})(nil)" if value is None else f"(*{type_name})(0xc000000000)"


def label_selector(selector: Mapping[str, Any] | None) -> str:
    """A `metav1.LabelSelector` (pointers are dereferenced by upstream's error printer)."""
    if selector is None:
        return "<nil>"
    expressions = selector.get("matchExpressions")
    if expressions is None:
        rendered = "[]v1.LabelSelectorRequirement(nil)"
    else:
        items = [
            struct(
                "v1.LabelSelectorRequirement",
                [
                    ("Key", quote(e.get("key", ""))),
                    ("Operator", quote(e.get("operator", ""))),
                    ("Values", string_slice(e.get("values"))),
                ],
            )
            for e in expressions
        ]
        rendered = "[]v1.LabelSelectorRequirement{" + ", ".join(items) + "}"
    return struct("v1.LabelSelector", [("MatchLabels", string_map(selector.get("matchLabels"))), ("MatchExpressions", rendered)])


def int_or_string(value: int | str | None) -> str:
    """`intstr.IntOrString` has a pointer-receiver `String()`, so values print as the raw struct."""
    if isinstance(value, str):
        return f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{quote(value)}}}"
    return f"intstr.IntOrString{{Type:0, IntVal:{value or 0}, StrVal:\"\"}}"
