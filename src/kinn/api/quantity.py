"""Kubernetes resource quantities (`100m`, `1Gi`, `1e3`, `0.5`), as k8s.io/apimachinery/pkg/api/resource.

A quantity is an exact decimal number plus the notation it was written in. Parsing rounds up to
nano precision, and the canonical form (what the API server stores and returns) keeps the notation
family: binary suffixes stay binary when exact (`1.5Gi` → `1536Mi`), decimal ones pick the largest
SI suffix that keeps an integer mantissa (`0.5` → `500m`, `1000` → `1k`), exponent notation keeps
`e` (`1.5e3` → `1500`, `1e3` → `1e3`). Values are `Fraction`s so comparisons are exact.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from functools import lru_cache

FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
SUFFIX_ERROR = "unable to parse quantity's suffix"


class QuantityError(ValueError):
    """An unparsable quantity; the message is upstream's (`ErrFormatWrong` or `ErrSuffix`)."""


class Format(Enum):
    DECIMAL_EXPONENT = "DecimalExponent"  # 12e6
    BINARY_SI = "BinarySI"  # 12Mi
    DECIMAL_SI = "DecimalSI"  # 12M


_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {e: s for s, e in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {e: s for s, e in _BINARY_SUFFIXES.items()}

# Sign, digits with an optional fraction, then a suffix of suffix letters and an optional signed exponent.
_QUANTITY_RE = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[-+]?[0-9]*)")
_NANO = Fraction(1, 10**9)


@dataclass(frozen=True, order=False)
class Quantity:
    value: Fraction
    format: Format = Format.DECIMAL_SI

    @classmethod
    def parse(cls, text: str) -> "Quantity":
        value, fmt = _parse(text)
        return cls(value, fmt)

    def __str__(self) -> str:
        return format_quantity(self.value, self.format)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quantity) and self.value == other.value

    def __add__(self, other: "Quantity") -> "Quantity":
        """Quantity.Add: the sum keeps the first addend's notation (64Mi + 128Mi = 192Mi), or the
        second's when the first is zero (a used "0" plus 64Mi is 64Mi)."""
        return Quantity(self.value + other.value, other.format if self.value == 0 else self.format)

    def __lt__(self, other: "Quantity") -> bool:
        return self.value < other.value

    def __le__(self, other: "Quantity") -> bool:
        return self.value <= other.value

    def __hash__(self) -> int:
        return hash(self.value)


def _interpret_suffix(suffix: str) -> tuple[int, int, Format]:
    """(base, exponent, format) of a suffix; `e3`/`E-2` are exponents, a bare `E` is exa."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], Format.DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], Format.BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE" and re.fullmatch(r"[-+]?[0-9]+", suffix[1:]):
        return 10, int(suffix[1:]), Format.DECIMAL_EXPONENT
    raise QuantityError(SUFFIX_ERROR)


def _round_up_to_nano(value: Fraction) -> Fraction:
    """Upstream keeps at most nano precision and rounds away from zero beyond it."""
    scaled = value / _NANO
    if scaled.denominator == 1:
        return value
    rounded = math.ceil(scaled) if scaled > 0 else math.floor(scaled)
    return rounded * _NANO


# Objects repeat a handful of quantities (`100m`, `64Mi`, `1`), and Fraction arithmetic is slow:
# parsing and canonical forms are pure, so each distinct string is worked out once.
_CACHED_QUANTITIES = 4096


@lru_cache(maxsize=_CACHED_QUANTITIES)
def _parse(text: str) -> tuple[Fraction, Format]:
    if not text:
        raise QuantityError(FORMAT_ERROR)
    match = _QUANTITY_RE.fullmatch(text)
    if not match:
        raise QuantityError(FORMAT_ERROR)
    sign, whole, fraction, suffix = match.groups()
    base, exponent, fmt = _interpret_suffix(suffix)
    digits = Fraction(int(whole or "0")) + (Fraction(int(fraction), 10 ** len(fraction)) if fraction else 0)
    value = digits * Fraction(base) ** exponent
    if sign == "-":
        value = -value
    return _round_up_to_nano(value), fmt


def parse_quantity(text: str) -> Fraction:
    """The exact value of a quantity string; raises QuantityError with upstream's message."""
    return _parse(text)[0]


def is_valid_quantity(text: str) -> bool:
    try:
        _parse(text)
    except QuantityError:
        return False
    return True


def _decimal_mantissa(value: Fraction, max_exponent: int | None) -> tuple[int, int]:
    """(mantissa, exponent) with exponent a multiple of 3, as large as keeps the mantissa integral."""
    mantissa, exponent = int(value / _NANO), -9
    while mantissa % 1000 == 0 and (max_exponent is None or exponent < max_exponent):
        mantissa //= 1000
        exponent += 3
    return mantissa, exponent


def format_quantity(value: Fraction | int, fmt: Format = Format.DECIMAL_SI) -> str:
    """The canonical string of a value in a notation family (upstream `Quantity.String()`)."""
    value = _round_up_to_nano(Fraction(value))
    if value == 0:
        return "0"
    if fmt is Format.BINARY_SI and (abs(value) < 1024 or value.denominator != 1):
        fmt = Format.DECIMAL_SI  # small or fractional binary values would lose precision in Ki units
    if fmt is Format.BINARY_SI:
        mantissa, exponent = int(value), 0
        while mantissa % 1024 == 0 and exponent < 60:
            mantissa //= 1024
            exponent += 10
        return f"{mantissa}{_BINARY_BY_EXPONENT.get(exponent, '')}"
    if fmt is Format.DECIMAL_EXPONENT:
        mantissa, exponent = _decimal_mantissa(value, None)
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    mantissa, exponent = _decimal_mantissa(value, 18)
    return f"{mantissa}{_DECIMAL_BY_EXPONENT[exponent]}"


@lru_cache(maxsize=_CACHED_QUANTITIES)
def canonical_quantity(text: str) -> str:
    """Re-render a quantity string as the API server stores it (`1.5Gi` → `1536Mi`)."""
    return str(Quantity.parse(text))


def value(text: str) -> int:
    """Upstream `Quantity.Value()`: the value rounded up to an integer (bytes, pods, …)."""
    return math.ceil(parse_quantity(text))


def milli_value(text: str) -> int:
    """Upstream `Quantity.MilliValue()`: thousandths rounded up (CPU in millicores)."""
    return math.ceil(parse_quantity(text) * 1000)
