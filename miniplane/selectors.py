"""Kubernetes label and field selectors: parsing and matching (pure).

Label selectors (``?labelSelector=``, ``kubectl -l``, ``spec.selector``)::

    a=b  a==b  a!=b  k in (x,y)  k notin (x)  k  !k        comma = AND

Field selectors (``?fieldSelector=``) know ``=``, ``==`` and ``!=``; ``\\``, ``,`` and ``=`` in a
value are escaped with a backslash. Which field names a resource offers is checked by the API layer
(``miniplane.resources.fields``), not here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

LabelOperator = Literal["In", "NotIn", "Exists", "DoesNotExist"]
FieldOperator = Literal["=", "!="]

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_LABEL_NAME = re.compile(_NAME)
_LABEL_PREFIX = re.compile(rf"{_DNS_LABEL}(\.{_DNS_LABEL})*")
_SYMBOLS = ("==", "!=", "=", "!", "(", ")", ",")
_TOKEN = re.compile(r"\s*(?:(==|!=|=|!|\(|\)|,)|([^\s=!(),]+))")


class SelectorError(ValueError):
    """A selector that cannot be parsed or is not valid."""


@dataclass(frozen=True, slots=True)
class LabelRequirement:
    """One condition on a label; ``a=b`` is ``In {b}`` and ``a!=b`` is ``NotIn {b}``."""

    key: str
    operator: LabelOperator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether the labels satisfy this requirement (a missing label fails In, passes NotIn)."""
        value = labels.get(self.key)
        if self.operator == "In":
            return value is not None and value in self.values
        if self.operator == "NotIn":
            return value is None or value not in self.values
        return (value is not None) == (self.operator == "Exists")

    def __str__(self) -> str:
        if self.operator == "Exists":
            return self.key
        if self.operator == "DoesNotExist":
            return f"!{self.key}"
        values = sorted(self.values)
        if len(values) == 1:
            return f"{self.key}{'=' if self.operator == 'In' else '!='}{values[0]}"
        return f"{self.key} {self.operator.lower()} ({','.join(values)})"


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A conjunction of label requirements; the empty selector matches everything."""

    requirements: tuple[LabelRequirement, ...] = ()

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        """Parse the query-string syntax; raises SelectorError."""
        return cls(_sorted(_LabelParser(text).parse()))

    @classmethod
    def from_api(cls, sel: Mapping[str, Any]) -> LabelSelector:
        """Build from a ``metav1.LabelSelector`` object (``matchLabels`` + ``matchExpressions``)."""
        match_labels = sel.get("matchLabels") or {}
        expressions = sel.get("matchExpressions") or []
        if not isinstance(match_labels, Mapping) or not isinstance(expressions, list):
            raise SelectorError("matchLabels must be an object and matchExpressions a list")
        reqs = [_requirement(k, "In", [v]) for k, v in match_labels.items()]
        reqs.extend(_expression(e) for e in expressions)
        return cls(_sorted(reqs))

    @property
    def empty(self) -> bool:
        """True when the selector has no requirements (matches everything)."""
        return not self.requirements

    @property
    def equality_requirements(self) -> tuple[tuple[str, frozenset[str]], ...]:
        """``(key, values)`` for each requirement that the label be one of ``values`` (for indexes)."""
        return tuple((r.key, r.values) for r in self.requirements if r.operator == "In")

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every requirement holds for ``labels``."""
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """``field=value`` or ``field!=value``."""

    field: str
    operator: FieldOperator
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        """Compare the field (missing counts as ``""``) with the value."""
        return (fields.get(self.field, "") == self.value) == (self.operator == "=")

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.field}{self.operator}{escaped}"


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A conjunction of field requirements; the empty selector matches everything."""

    requirements: tuple[FieldRequirement, ...] = ()

    @classmethod
    def parse(cls, text: str) -> FieldSelector:
        """Parse ``a=b,c!=d`` (``==`` is ``=``; empty terms are skipped); raises SelectorError."""
        reqs = [_field_term(term) for term in _split_unescaped(text) if term.strip()]
        return cls(tuple(sorted(reqs, key=lambda r: r.field)))

    @property
    def empty(self) -> bool:
        """True when the selector has no requirements (matches everything)."""
        return not self.requirements

    def required_value(self, field: str) -> str | None:
        """The value an ``=`` requirement demands for ``field``, if any (for index lookups)."""
        return next((r.value for r in self.requirements if r.field == field and r.operator == "="), None)

    def matches(self, fields: Mapping[str, str]) -> bool:
        """Whether every requirement holds for ``fields``."""
        return all(r.matches(fields) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _sorted(reqs: list[LabelRequirement]) -> tuple[LabelRequirement, ...]:
    return tuple(sorted(reqs, key=lambda r: r.key))


def _requirement(key: Any, operator: LabelOperator, values: list[Any]) -> LabelRequirement:
    """Validate and build one requirement, as Kubernetes does for keys, values and operators."""
    if not isinstance(key, str):
        raise SelectorError(f"label key must be a string, got {key!r}")
    _check_key(key)
    for value in values:
        if not isinstance(value, str):
            raise SelectorError(f"label value must be a string, got {value!r}")
        if value and (len(value) > 63 or not _LABEL_NAME.fullmatch(value)):
            raise SelectorError(
                f"invalid label value {value!r}: must be 63 characters or less, begin and end with "
                "an alphanumeric character and contain only alphanumerics, '-', '_' or '.'"
            )
    if operator in ("In", "NotIn") and not values:
        raise SelectorError(f"for 'in', 'notin' operators, values set can't be empty (key {key!r})")
    if operator in ("Exists", "DoesNotExist") and values:
        raise SelectorError(f"values must be empty for operator {operator} (key {key!r})")
    return LabelRequirement(key, operator, frozenset(values))


def _check_key(key: str) -> None:
    prefix, _, name = key.rpartition("/")
    if "/" in key and (len(prefix) > 253 or not _LABEL_PREFIX.fullmatch(prefix)):
        raise SelectorError(f"invalid label key {key!r}: prefix must be a DNS subdomain")
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        raise SelectorError(
            f"invalid label key {key!r}: name must be 1-63 characters, begin and end with an "
            "alphanumeric character and contain only alphanumerics, '-', '_' or '.'"
        )


def _expression(expr: Any) -> LabelRequirement:
    if not isinstance(expr, Mapping):
        raise SelectorError(f"matchExpressions entries must be objects, got {expr!r}")
    operator = expr.get("operator")
    if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
        raise SelectorError(f"{operator!r} is not a valid label selector operator")
    values = expr.get("values") or []
    if not isinstance(values, list):
        raise SelectorError("matchExpressions values must be a list")
    return _requirement(expr.get("key"), operator, values)


class _LabelParser:
    """Recursive-descent parser over the tokens of a label selector string."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def parse(self) -> list[LabelRequirement]:
        reqs: list[LabelRequirement] = []
        while self.tokens:
            reqs.append(self._requirement())
            tok = self._next()
            if tok is None:
                break
            self._expect(",", tok)
        return reqs

    def _requirement(self) -> LabelRequirement:
        tok = self._next()
        if tok == "!":
            return _requirement(self._word("a label key after '!'", self._next()), "DoesNotExist", [])
        key = self._word("a label key", tok)
        op = self._peek()
        if op in (None, ","):
            return _requirement(key, "Exists", [])
        self.pos += 1
        if op in ("=", "==", "!="):
            value = "" if self._peek() in (None, ",") else self._word("a value", self._next())
            return _requirement(key, "NotIn" if op == "!=" else "In", [value])
        if op in ("in", "notin"):
            return _requirement(key, "In" if op == "in" else "NotIn", self._value_list())
        raise self._error(f"found {op!r}, expected '=', '!=', 'in', 'notin', ',' or the end")

    def _value_list(self) -> list[str]:
        """``( v1, v2, ... )``; empty entries stand for the empty value, as in Kubernetes."""
        self._expect("(", self._next())
        values: list[str] = []
        while True:
            tok = self._next()
            if tok == ")":
                return values
            if tok == ",":
                values.append("")
                continue
            values.append(self._word("a value, ',' or ')'", tok))
            tok = self._next()
            if tok == ")":
                return values
            if tok != ",":
                raise self._error(f"found {tok or 'end of string'!r}, expected ',' or ')'")

    def _word(self, what: str, tok: str | None) -> str:
        if tok is None or tok in _SYMBOLS:
            raise self._error(f"found {tok or 'end of string'!r}, expected {what}")
        return tok

    def _expect(self, want: str, tok: str | None) -> None:
        if tok != want:
            raise self._error(f"found {tok or 'end of string'!r}, expected {want!r}")

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _next(self) -> str | None:
        tok = self._peek()
        self.pos += 1
        return tok

    def _error(self, detail: str) -> SelectorError:
        return SelectorError(f"unable to parse label selector {self.text!r}: {detail}")


def _tokenize(text: str) -> list[str]:
    """Symbols (``==``, ``!=``, ``=``, ``!``, ``(``, ``)``, ``,``) and words between them."""
    tokens: list[str] = []
    text = text.rstrip()
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m is not None  # the pattern accepts every non-blank character
        tokens.append(m.group(1) or m.group(2))
        pos = m.end()
    return tokens


def _split_unescaped(text: str) -> list[str]:
    """Split on commas that are not escaped with a backslash (escapes are kept)."""
    terms: list[str] = []
    start = 0
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _field_term(term: str) -> FieldRequirement:
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                field = term[:i].strip()
                if not field:
                    raise SelectorError(f"invalid field selector {term!r}: missing field name")
                return FieldRequirement(field, "!=" if op == "!=" else "=", _unescape(term[i + len(op) :]))
    raise SelectorError(f"invalid field selector {term!r}: expected '=', '==' or '!='")


def _unescape(value: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise SelectorError(f"invalid escape sequence '\\{ch}' in field selector value {value!r}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "=":
            raise SelectorError(f"invalid field selector value {value!r}: unescaped '='")
        else:
            out.append(ch)
    if escaped:
        raise SelectorError(f"invalid field selector value {value!r}: trailing backslash")
    return "".join(out)
