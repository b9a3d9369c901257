"""Kubernetes resource quantities (``100m``, ``1.5``, ``64Mi``, ``1G``, ``1e3``): exact values, order, text.

Mirrors apimachinery's ``resource.Quantity``:

- the suffix picks the format: binary (``Ki`` .. ``Ei``), decimal SI (``n`` .. ``E`` or none) or a
  decimal exponent (``e3``, ``E-2``); the canonical text keeps that format;
- values finer than a nano unit round up (away from zero), so ``0.1n`` is ``1n``;
- canonical text uses the largest suffix with an integer mantissa: ``1.5`` is ``1500m``, ``1024Mi``
  is ``1Gi``, ``1.5Ki`` is ``1536``; a binary value below 1024 or not whole prints as decimal SI.

Values are ``fractions.Fraction``, so sums and comparisons are exact.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

QuantityFormat = Literal["DecimalSI", "BinarySI", "DecimalExponent"]

FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
SUFFIX_ERROR = "unable to parse quantity's suffix"

_SHAPE = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[-+]?[0-9]*)")
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}  # powers of 1024
_DECIMAL_BY_EXPONENT = {e: s for s, e in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_POWER = {p: s for s, p in _BINARY_SUFFIXES.items()}
_NANO = 10**9


@dataclass(frozen=True, order=True)
class Quantity:
    """An exact quantity; equality and order compare values only, whatever the format."""

    value: Fraction
    format: QuantityFormat = field(default="DecimalSI", compare=False)

    @classmethod
    def parse(cls, raw: str | int | float) -> Quantity:
        """Parse the text (or a JSON number); raises ValueError with apimachinery's message."""
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise ValueError(FORMAT_ERROR)
        text = raw if isinstance(raw, str) else repr(raw)
        match = _SHAPE.fullmatch(text)
        if not text or match is None:
            raise ValueError(FORMAT_ERROR)
        sign, whole, frac, suffix = match.groups()
        multiplier, fmt = _interpret(suffix)
        number = Fraction(int(whole or "0")) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)
        magnitude = Fraction(math.ceil(number * multiplier * _NANO), _NANO)
        return cls(-magnitude if sign == "-" else magnitude, fmt)

    def milli_value(self) -> int:
        """The value in thousandths, rounded up (as ``Quantity.MilliValue``)."""
        return math.ceil(self.value * 1000)

    def rounded_to_milli(self) -> Quantity:
        """Rounded away from zero to a whole number of thousandths (as the v1 ResourceList defaulter)."""
        magnitude = Fraction(math.ceil(abs(self.value) * 1000), 1000)
        return Quantity(magnitude if self.value >= 0 else -magnitude, self.format)

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + other.value, self.format)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, self.format)

    def __str__(self) -> str:
        if self.value == 0:
            return "0"
        sign = "-" if self.value < 0 else ""
        magnitude = abs(self.value)
        if self.format == "BinarySI" and self.value.denominator == 1 and magnitude >= 1024:
            return sign + _binary_text(int(magnitude))
        return sign + _decimal_text(magnitude, self.format == "DecimalExponent")


def parse_quantity(raw: str | int | float) -> Fraction:
    """The exact value of a quantity's text; raises ValueError."""
    return Quantity.parse(raw).value


def _interpret(suffix: str) -> tuple[Fraction, QuantityFormat]:
    if suffix in _DECIMAL_SUFFIXES:
        return Fraction(10) ** _DECIMAL_SUFFIXES[suffix], "DecimalSI"
    if suffix in _BINARY_SUFFIXES:
        return Fraction(1024 ** _BINARY_SUFFIXES[suffix]), "BinarySI"
    if len(suffix) > 1 and suffix[0] in "eE" and re.fullmatch(r"[+-]?[0-9]+", suffix[1:]):
        return Fraction(10) ** int(suffix[1:]), "DecimalExponent"
    raise ValueError(SUFFIX_ERROR)


def _decimal_text(magnitude: Fraction, exponent_form: bool) -> str:
    """Integer mantissa and a power-of-ten exponent that is a multiple of 3 (values are nano-exact)."""
    mantissa, exponent = int(magnitude * _NANO), -9
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3
    mantissa, exponent = mantissa * 10**shift, exponent - shift
    if exponent_form:
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    suffix = _DECIMAL_BY_EXPONENT.get(exponent)
    return f"{mantissa}{suffix}" if suffix is not None else f"{mantissa}e{exponent}"


def _binary_text(magnitude: int) -> str:
    power = 0
    while magnitude % 1024 == 0 and power < max(_BINARY_BY_POWER):
        magnitude //= 1024
        power += 1
    return f"{magnitude}{_BINARY_BY_POWER.get(power, '')}"
