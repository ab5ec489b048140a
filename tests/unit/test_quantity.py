"""Quantities parse, compare and render as resource.Quantity does upstream."""

from fractions import Fraction

import pytest

from kinn.api.quantity import (
    FORMAT_ERROR,
    SUFFIX_ERROR,
    Quantity,
    QuantityError,
    canonical_quantity,
    is_valid_quantity,
    milli_value,
    parse_quantity,
    value,
)


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("100m", "100m"),
        ("0.5", "500m"),
        ("1000", "1k"),
        ("1500", "1500"),
        ("1Gi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("0.5Ki", "512"),
        ("1e3", "1e3"),
        ("1.5e3", "1500"),
        ("12e6", "12e6"),
        ("0.1n", "1n"),
        ("-1.5", "-1500m"),
        ("1E", "1E"),
        ("0", "0"),
        ("+2k", "2k"),
    ],
)
def test_canonical_form(text: str, canonical: str) -> None:
    assert canonical_quantity(text) == canonical


def test_values_are_exact() -> None:
    assert parse_quantity("100m") == Fraction(1, 10)
    assert parse_quantity("1Ki") == 1024
    assert milli_value("1") == 1000
    assert milli_value("0.5m") == 1  # rounded up, like MilliValue()
    assert value("1.2") == 2


def test_comparison_ignores_notation() -> None:
    assert Quantity.parse("1000m") == Quantity.parse("1")
    assert Quantity.parse("1Gi") > Quantity.parse("1G")


@pytest.mark.parametrize("text, message", [("abc", FORMAT_ERROR), ("1.2.3", FORMAT_ERROR), ("", FORMAT_ERROR), ("1Ki3", SUFFIX_ERROR)])
def test_invalid(text: str, message: str) -> None:
    assert not is_valid_quantity(text)
    with pytest.raises(QuantityError, match=None) as err:
        parse_quantity(text)
    assert str(err.value) == message


def test_format_error_text() -> None:
    assert FORMAT_ERROR == (
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )
