"""Label selectors, as k8s.io/apimachinery/pkg/labels and metav1.LabelSelectorAsSelector.

`parse_label_selector` reads the `?labelSelector=` syntax (`a=b,c!=d,e in (x,y),!f`) with the
upstream lexer's rules and error wording, because kubectl shows the API server's message verbatim
(`unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt`).
`label_selector_from_object` turns a `spec.selector` object into the same matcher, so controllers,
the Service endpoints controller and the list handler share one implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping, Sequence

from kinn.api.errors import StatusError, aggregate
from kinn.api.field import invalid as invalid_field
from kinn.api.validation.names import is_qualified_name, is_valid_label_value

Labels = Mapping[str, str]


class SelectorError(StatusError):
    """A selector the API server rejects: a 400 BadRequest carrying the upstream message."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "BadRequest", message)


class Operator(str, Enum):
    """`selection.Operator`; the values are the strings upstream lists in its error messages."""

    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    GREATER_THAN = "gt"
    LESS_THAN = "lt"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"


_BINARY_OPERATORS = ", ".join(
    op.value
    for op in (Operator.IN, Operator.NOT_IN, Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS,
               Operator.GREATER_THAN, Operator.LESS_THAN)
)


def _go_int(value: str) -> int | None:
    """strconv.ParseInt(value, 10, 64): optional sign and decimal digits only."""
    digits = value[1:] if value[:1] in "+-" else value
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    number = int(value)
    return number if -(2**63) <= number < 2**63 else None


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Labels) -> bool:
        op = self.operator
        if op in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op is Operator.EXISTS:
            return self.key in labels
        if op is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        # gt / lt compare integers; a non-integer label value never matches.
        have = _go_int(labels[self.key]) if self.key in labels else None
        want = _go_int(self.values[0]) if len(self.values) == 1 else None
        if have is None or want is None:
            return False
        return have > want if op is Operator.GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        values = ",".join(sorted(self.values))
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op.value} ({values})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{values}"


class LabelSelector:
    """An AND of requirements, kept sorted by key as upstream's `internalSelector` is.

    `nothing=True` is `labels.Nothing()`: what a nil `spec.selector` converts to.
    """

    __slots__ = ("requirements", "nothing", "_key")

    def __init__(self, requirements: Sequence[Requirement] = (), *, nothing: bool = False) -> None:
        self.requirements = tuple(sorted(requirements, key=lambda r: r.key))
        self.nothing = nothing
        self._key: str | None = None

    @property
    def key(self) -> str:
        """The selector as one string, equal for equal selectors: a cache key whose hash Python
        computes once (a tuple of requirements is hashed anew at every lookup)."""
        if self._key is None:
            self._key = "<nothing>" if self.nothing else str(self)
        return self._key

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (`Selector.Empty()`)."""
        return not self.nothing and not self.requirements

    def matches(self, labels: Labels | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The single value `key` must have, if the selector pins one (`RequiresExactMatch`)."""
        for r in self.requirements:
            if r.key == key:
                exact = r.operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN)
                return r.values[0] if exact and len(r.values) == 1 else None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return f"LabelSelector({str(self)!r})"


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)


# --- NewRequirement validation ---


def _invalid(field: str, value: Any, detail: str) -> str:
    return str(invalid_field(field, value, detail))


def _key_error(key: str, field: str) -> str | None:
    errs = is_qualified_name(key)
    return _invalid(field, key, "; ".join(errs)) if errs else None


def new_requirement(key: str, operator: Operator, values: Sequence[str], path: str = "") -> Requirement:
    """`labels.NewRequirement`: validate key, operator arity and values; raise the aggregated error."""
    errs: list[str] = []
    prefix = f"{path}." if path else ""
    if (err := _key_error(key, prefix + "key")) is not None:
        errs.append(err)
    values_path = prefix + "values"
    if operator in (Operator.IN, Operator.NOT_IN) and not values:
        errs.append(_invalid(values_path, list(values), "for 'in', 'notin' operators, values set can't be empty"))
    elif operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS) and len(values) != 1:
        errs.append(_invalid(values_path, list(values), "exact-match compatibility requires one single value"))
    elif operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and values:
        errs.append(_invalid(values_path, list(values), "values set must be empty for exists and does not exist"))
    elif operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
        if len(values) != 1:
            errs.append(_invalid(values_path, list(values), "for 'Gt', 'Lt' operators, exactly one value is required"))
        errs.extend(
            _invalid(f"{values_path}[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer")
            for i, v in enumerate(values)
            if _go_int(v) is None
        )
    for i, value in enumerate(values):
        if msgs := is_valid_label_value(value):
            errs.append(_invalid(f"{values_path}[{i}][{key}]", value, "; ".join(msgs)))
    if errs:
        raise SelectorError(aggregate(errs))
    return Requirement(key, operator, tuple(values))


# --- the string syntax: lexer and parser ---

_WHITESPACE = " \t\r\n"
_SPECIAL = "=!(),><"
_TOKENS = {
    ")": "CLOSE", ",": "COMMA", "!": "NOT", "==": "DEQ", "=": "EQ", ">": "GT", "in": "IN",
    "<": "LT", "!=": "NEQ", "notin": "NOTIN", "(": "OPEN",
}
_ID, _EOS, _ERROR = "ID", "EOS", "ERROR"
_OPERATOR_TOKENS = {
    "IN": Operator.IN, "EQ": Operator.EQUALS, "DEQ": Operator.DOUBLE_EQUALS, "GT": Operator.GREATER_THAN,
    "LT": Operator.LESS_THAN, "NOTIN": Operator.NOT_IN, "NEQ": Operator.NOT_EQUALS,
}
# Go's `%s` of a nil *field.Path, which is how Parse reports an invalid key.
_NIL_PATH = "<nil>"


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokenise as upstream's Lexer: longest special-symbol match, keywords `in`/`notin`, identifiers."""
    items: list[tuple[str, str]] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            items.append((_EOS, ""))
            return items
        if text[pos] in _SPECIAL:
            buffer, last, last_end = "", None, pos
            while pos < n and text[pos] in _SPECIAL:
                buffer += text[pos]
                pos += 1
                if buffer in _TOKENS:
                    last, last_end = (_TOKENS[buffer], buffer), pos
                elif last is not None:
                    break
            if last is None:
                items.append((_ERROR, f"error expected: keyword found '{buffer}'"))
            else:
                items.append(last)
                pos = last_end
            continue
        start = pos
        while pos < n and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        items.append((_TOKENS.get(word, _ID), word))


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def _peek(self, values: bool = True) -> tuple[str, str]:
        return self._as_context(self.items[self.pos], values)

    def _next(self, values: bool = True) -> tuple[str, str]:
        self.pos += 1
        return self._as_context(self.items[self.pos - 1], values)

    @staticmethod
    def _as_context(item: tuple[str, str], values: bool) -> tuple[str, str]:
        # In a value position `in` and `notin` are plain identifiers (`x in (in)`).
        if values and item[0] in ("IN", "NOTIN"):
            return _ID, item[1]
        return item

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self._peek()
            if tok == _EOS:
                return requirements
            if tok not in (_ID, "NOT"):
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self._requirement())
            except SelectorError as err:
                raise SelectorError(f"unable to parse requirement: {err.message}") from None
            tok, lit = self._next()
            if tok == _EOS:
                return requirements
            if tok != "COMMA":
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            tok, lit = self._peek()
            if tok not in (_ID, "NOT"):
                raise SelectorError(f"found '{lit}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        key, operator = self._key_and_inferred_operator()
        if operator is not None:
            return new_requirement(key, operator, ())
        operator = self._operator()
        values = self._set_values() if operator in (Operator.IN, Operator.NOT_IN) else self._exact_value()
        return new_requirement(key, operator, sorted(values))

    def _key_and_inferred_operator(self) -> tuple[str, Operator | None]:
        operator = None
        tok, lit = self._next()
        if tok == "NOT":
            operator = Operator.DOES_NOT_EXIST
            tok, lit = self._next()
        if tok != _ID:
            raise SelectorError(f"found '{lit}', expected: identifier")
        if (err := _key_error(lit, _NIL_PATH)) is not None:
            raise SelectorError(err)
        if self._peek()[0] in (_EOS, "COMMA") and operator is None:
            operator = Operator.EXISTS
        return lit, operator

    def _operator(self) -> Operator:
        tok, lit = self._next(values=False)
        if tok not in _OPERATOR_TOKENS:
            raise SelectorError(f"found '{lit}', expected: {_BINARY_OPERATORS}")
        return _OPERATOR_TOKENS[tok]

    def _set_values(self) -> set[str]:
        tok, lit = self._next()
        if tok != "OPEN":
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self._peek()
        if tok == "CLOSE":
            self._next()
            return {""}
        if tok not in (_ID, "COMMA"):
            raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")
        values = self._identifiers()
        if self._next()[0] != "CLOSE":
            raise SelectorError(f"found '{lit}', expected: ')'")
        return values

    def _identifiers(self) -> set[str]:
        """A comma-separated list in which empty entries mean the empty value, as upstream allows."""
        values: set[str] = set()
        while True:
            tok, lit = self._next()
            if tok == _ID:
                values.add(lit)
                tok2, lit2 = self._peek()
                if tok2 == "CLOSE":
                    return values
                if tok2 != "COMMA":
                    raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            elif tok == "COMMA":
                if not values:
                    values.add("")
                tok2 = self._peek()[0]
                if tok2 == "CLOSE":
                    values.add("")
                    return values
                if tok2 == "COMMA":
                    values.add("")
            else:
                raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        if self._peek()[0] in (_EOS, "COMMA"):
            return {""}
        tok, lit = self._next()
        if tok == _ID:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """`labels.Parse`: the `?labelSelector=` syntax; raises `SelectorError` with upstream's wording."""
    if not text:
        return EVERYTHING
    return LabelSelector(_Parser(text).parse())


_EXPRESSION_OPERATORS = {
    "In": Operator.IN, "NotIn": Operator.NOT_IN, "Exists": Operator.EXISTS, "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def label_selector_from_object(selector: Mapping[str, Any] | None) -> LabelSelector:
    """`metav1.LabelSelectorAsSelector`: None selects nothing, `{}` selects everything."""
    if selector is None:
        return NOTHING
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return EVERYTHING
    requirements = [new_requirement(k, Operator.EQUALS, [v]) for k, v in match_labels.items()]
    for expr in expressions:
        operator = _EXPRESSION_OPERATORS.get(expr.get("operator", ""))
        if operator is None:
            raise SelectorError(f'"{expr.get("operator", "")}" is not a valid label selector operator')
        requirements.append(new_requirement(expr.get("key", ""), operator, list(expr.get("values") or [])))
    return LabelSelector(requirements)


def format_labels(labels: Mapping[str, str] | None) -> str:
    """`labels.FormatLabels`: `k=v` sorted by key, or `<none>`."""
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels)) if labels else "<none>"


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """`metav1.FormatLabelSelector`, as printed in the SELECTOR column: `<none>` or `<error>`."""
    try:
        text = str(label_selector_from_object(selector))
    except SelectorError:
        return "<error>"
    return text or "<none>"
