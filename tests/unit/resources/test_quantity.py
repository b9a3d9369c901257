"""Resource quantities: exact parsing, canonical text, ordering, errors."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from miniplane.resources.quantity import FORMAT_ERROR, SUFFIX_ERROR, Quantity, parse_quantity

Ki, Mi, Gi = 2**10, 2**20, 2**30


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("100m", Fraction(1, 10), id="milli"),
        pytest.param("1.5", Fraction(3, 2), id="decimal-fraction"),
        pytest.param("64Mi", 64 * Mi, id="mebi"),
        pytest.param("1G", 10**9, id="giga"),
        pytest.param("1e3", 1000, id="exponent"),
        pytest.param("1E-2", Fraction(1, 100), id="negative-exponent"),
        pytest.param("2Ki", 2 * Ki, id="kibi"),
        pytest.param("1.5Gi", 3 * Gi // 2, id="fractional-binary"),
        pytest.param("1Ei", 2**60, id="exbi"),
        pytest.param("1E", 10**18, id="exa-not-exponent"),
        pytest.param("250u", Fraction(1, 4000), id="micro"),
        pytest.param("0.1n", Fraction(1, 10**9), id="below-nano-rounds-up"),
        pytest.param("-0.1n", Fraction(-1, 10**9), id="negative-rounds-away-from-zero"),
        pytest.param("-1", -1, id="negative"),
        pytest.param("+3", 3, id="explicit-plus"),
        pytest.param("007", 7, id="leading-zeros"),
        pytest.param(".5", Fraction(1, 2), id="no-integer-part"),
        pytest.param("1.G", 10**9, id="dot-before-suffix"),
        pytest.param("0", 0, id="zero"),
        pytest.param(2, 2, id="json-int"),
        pytest.param(0.25, Fraction(1, 4), id="json-float"),
    ],
)
def test_parse_is_exact(text: str | int | float, value: Fraction | int) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        pytest.param("1.5", "1500m", id="decimal-to-milli"),
        pytest.param("0.5", "500m", id="half"),
        pytest.param("100m", "100m", id="milli-stays"),
        pytest.param("1000", "1k", id="thousand-to-kilo"),
        pytest.param("1500", "1500", id="no-integer-kilo"),
        pytest.param("1000M", "1G", id="mega-to-giga"),
        pytest.param("12345", "12345", id="plain-integer"),
        pytest.param("1024Mi", "1Gi", id="mebi-to-gibi"),
        pytest.param("1.5Ki", "1536", id="binary-not-whole-kibi"),
        pytest.param("1.5Gi", "1536Mi", id="binary-largest-whole-suffix"),
        pytest.param("0.5Ki", "512", id="binary-below-1024-prints-decimal"),
        pytest.param("1023Ki", "1023Ki", id="binary-stays"),
        pytest.param("1e3", "1e3", id="exponent-stays"),
        pytest.param("1500e-3", "1500e-3", id="exponent-multiple-of-three"),
        pytest.param("1E0", "1", id="exponent-zero"),
        pytest.param("-1500m", "-1500m", id="negative"),
        pytest.param("0.1n", "1n", id="nano-floor"),
        pytest.param("0Gi", "0", id="zero"),
        pytest.param(1, "1", id="json-int"),
    ],
)
def test_canonical_text(text: str | int, canonical: str) -> None:
    assert str(Quantity.parse(text)) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", FORMAT_ERROR, id="empty"),
        pytest.param("abc", FORMAT_ERROR, id="letters"),
        pytest.param("1x", FORMAT_ERROR, id="unknown-letter"),
        pytest.param("1 Mi", FORMAT_ERROR, id="space"),
        pytest.param("--1", SUFFIX_ERROR, id="double-sign-reads-as-suffix"),
        pytest.param("1k2", SUFFIX_ERROR, id="digits-after-suffix"),
        pytest.param("1e", SUFFIX_ERROR, id="bare-exponent"),
        pytest.param("1Mb", FORMAT_ERROR, id="bytes-suffix"),
        pytest.param("1-", SUFFIX_ERROR, id="trailing-sign"),
        pytest.param(True, FORMAT_ERROR, id="boolean"),
        pytest.param(None, FORMAT_ERROR, id="null"),
    ],
)
def test_bad_quantities_raise(text: object, message: str) -> None:
    with pytest.raises(ValueError) as err:
        Quantity.parse(text)  # type: ignore[arg-type]
    assert str(err.value) == message


def test_order_and_equality_ignore_format() -> None:
    assert Quantity.parse("1Ki") == Quantity.parse("1024")
    assert Quantity.parse("1Gi") > Quantity.parse("1G")
    assert sorted(Quantity.parse(q) for q in ("1", "500m", "2k")) == [
        Quantity.parse("500m"),
        Quantity.parse("1"),
        Quantity.parse("2k"),
    ]


def test_arithmetic_keeps_left_format() -> None:
    total = Quantity.parse("1Gi") + Quantity.parse("512Mi")
    assert str(total) == "1536Mi"
    assert str(Quantity.parse("1") - Quantity.parse("250m")) == "750m"


@pytest.mark.parametrize(
    ("text", "milli", "rounded"),
    [
        pytest.param("100m", 100, "100m", id="exact"),
        pytest.param("0.0001", 1, "1m", id="rounds-up"),
        pytest.param("1Gi", 1000 * Gi, "1Gi", id="large"),
    ],
)
def test_milli_rounding(text: str, milli: int, rounded: str) -> None:
    amount = Quantity.parse(text)
    assert amount.milli_value() == milli
    assert str(amount.rounded_to_milli()) == rounded


@given(
    st.integers(min_value=-(10**15), max_value=10**15),
    st.sampled_from(["n", "u", "m", "", "k", "M", "G", "Ki", "Mi", "Gi", "e3", "e-6"]),
)
def test_canonical_text_parses_back_to_the_same_value(number: int, suffix: str) -> None:
    amount = Quantity.parse(f"{number}{suffix}")
    again = Quantity.parse(str(amount))
    assert again.value == amount.value
    assert str(again) == str(amount)
