"""Checks shared by the non-core groups, as apimachinery and pkg/apis/apps/validation provide them.

Workload controllers (apps, batch, policy) all select pods by a `metav1.LabelSelector`, count
things with non-negative integers, and size rollouts with int-or-percent values; each check lives
here once with the upstream wording.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from kinn.api.field import ErrorList, Path
from kinn.api.selectors import SelectorError, label_selector_from_object
from kinn.api.validation import gofmt, meta
from kinn.api.validation.names import NameValidator, is_valid_percent

Obj = dict[str, Any]


def nonnegative(value: int | None, path: Path) -> ErrorList:
    """`ValidateNonnegativeField` for a field that may be unset (unset fields are not checked)."""
    return [] if value is None else meta.validate_nonnegative_field(value, path)


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """`LabelSelectorAsSelector(sel).Matches(labels)`; a malformed selector (reported by
    `validate_label_selector`) is treated as matching, so it is not reported twice."""
    try:
        return label_selector_from_object(selector).matches(labels)
    except SelectorError:
        return True


def selector_is_empty(selector: Mapping[str, Any] | None) -> bool:
    """True for `{}`, which selects everything and so is refused by controllers that own pods."""
    return selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions")


def template_labels_match(selector: Mapping[str, Any] | None, template: Obj, path: Path) -> ErrorList:
    """The `selector` does not match template `labels` check every pod controller runs."""
    if selector_is_empty(selector):
        return []
    labels = (template.get("metadata") or {}).get("labels")
    if selector_matches(selector, labels):
        return []
    return [
        gofmt.invalid(path.child("metadata", "labels"), gofmt.string_map(labels), "`selector` does not match template `labels`")
    ]


def _percent(value: int | str | None) -> int | None:
    if isinstance(value, str) and not is_valid_percent(value):
        return int(value[:-1])
    return None


def int_or_percent_value(value: int | str | None) -> int:
    """`getIntOrPercentValue`: the number of a percent, or the integer (a non-numeric string counts as 0)."""
    percent = _percent(value)
    if percent is not None:
        return percent
    if isinstance(value, str):
        return int(value) if value.isdigit() else 0
    return value or 0


def positive_int_or_percent(value: int | str | None, path: Path) -> ErrorList:
    """`ValidatePositiveIntOrPercent`."""
    if isinstance(value, str):
        return [gofmt.invalid(path, gofmt.int_or_string(value), msg) for msg in is_valid_percent(value)]
    return nonnegative(value, path)


def not_more_than_100_percent(value: int | str | None, path: Path) -> ErrorList:
    percent = _percent(value)
    if percent is not None and percent > 100:
        return [gofmt.invalid(path, gofmt.int_or_string(value), "must not be greater than 100%")]
    return []


def object_meta(obj: Obj, namespaced: bool, name_fn: NameValidator) -> ErrorList:
    """`ValidateObjectMeta` on the object's metadata, at path `metadata`."""
    return meta.validate_object_meta(obj, namespaced, name_fn)


def object_meta_update(new: Obj, old: Obj) -> ErrorList:
    return meta.validate_object_meta_update(new, old)


def immutable(new: Any, old: Any, path: Path, render: Callable[[Any], str] | None = None) -> ErrorList:
    """`ValidateImmutableField`; `render` gives the Go rendering of non-scalar values."""
    if new == old or render is None:
        return meta.validate_immutable_field(new, old, path)
    return [gofmt.invalid(path, render(new), meta.FIELD_IMMUTABLE)]
