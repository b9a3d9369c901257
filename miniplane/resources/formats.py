"""String formats Kubernetes validates (DNS names, label keys and values, ports, ...).

Each check returns the list of problems with ``value`` in apimachinery's own words (empty when the
value is fine); callers turn each into an ``Invalid value`` cause. Lengths count UTF-8 bytes, as Go's
``len`` does.
"""

from __future__ import annotations

import re

_DNS_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN_FMT = _DNS_LABEL_FMT + "(\\." + _DNS_LABEL_FMT + ")*"
_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _LABEL_KEY_FMT + ")?"
_PERCENT_FMT = "[0-9]+%"
_HTTP_HEADER_FMT = "[-A-Za-z0-9]+"
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"

_DNS_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)


def _matches(fmt: str, value: str) -> bool:
    return re.fullmatch(fmt, value) is not None


def _size(value: str) -> int:
    return len(value.encode())


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """``RegexError``, including its ``'a',  or 'b'`` spacing."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    listed = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {listed}regex used for validation is '{fmt}')"


def max_len_error(limit: int) -> str:
    return f"must be no more than {limit} bytes"


def inclusive_range_error(low: int, high: int) -> str:
    return f"must be between {low} and {high}, inclusive"


def dns_label(value: str) -> list[str]:
    """RFC 1123 label: container, volume and namespace names."""
    errs = [max_len_error(63)] if _size(value) > 63 else []
    if not _matches(_DNS_LABEL_FMT, value):
        if _matches(_DNS_SUBDOMAIN_FMT, value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS_LABEL_MSG, _DNS_LABEL_FMT, "my-name", "123-abc"))
    return errs


def dns_subdomain(value: str) -> list[str]:
    """RFC 1123 subdomain: most object names."""
    errs = [max_len_error(253)] if _size(value) > 253 else []
    if not _matches(_DNS_SUBDOMAIN_FMT, value):
        errs.append(regex_error(_DNS_SUBDOMAIN_MSG, _DNS_SUBDOMAIN_FMT, "example.com"))
    return errs


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    """An object name (``prefix``: a generateName, which may end in ``-``)."""
    return dns_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    """A namespace name (``prefix``: a generateName, which may end in ``-``)."""
    return dns_label(_mask_trailing_dash(name) if prefix else name)


def _mask_trailing_dash(name: str) -> str:
    """Upstream's ``maskTrailingDash``, quirk included: it drops the last two characters, adds ``a``."""
    return name[:-2] + "a" if len(name) > 1 and name.endswith("-") else name


def path_segment_name(name: str, prefix: bool) -> list[str]:
    """What any object name must satisfy to sit in a URL path (the only rule for core/v1 Events)."""
    if not prefix and name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{ch}'" for ch in ("/", "%") if ch in name]


def qualified_name(value: str) -> list[str]:
    """A label key (``prefix/name``): also annotation keys, taint keys, finalizers, resource names."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) > 2:
        return [
            "a valid label key "
            + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + msg for msg in dns_subdomain(prefix))
    if not name:
        errs.append("name part must be non-empty")
    elif _size(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _matches(_LABEL_KEY_FMT, name):
        errs.append("name part " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return errs


def label_value(value: str) -> list[str]:
    errs = [max_len_error(63)] if _size(value) > 63 else []
    if not _matches(_LABEL_VALUE_FMT, value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def port_name(value: str) -> list[str]:
    """IANA_SVC_NAME: at most 15 of ``[-a-z0-9]``, a letter, no ``--``, no edge hyphen."""
    errs = [max_len_error(15)] if _size(value) > 15 else []
    if not _matches("[-a-z0-9]+", value):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", value):
        errs.append("must contain at least one letter (a-z)")
    if "--" in value:
        errs.append("must not contain consecutive hyphens")
    if value.startswith("-") or value.endswith("-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def port_number(value: int) -> list[str]:
    return [] if 1 <= value <= 65535 else [inclusive_range_error(1, 65535)]


def percent(value: str) -> list[str]:
    if _matches(_PERCENT_FMT, value):
        return []
    msg = "a valid percent string must be a numeric string followed by an ending '%'"
    return [regex_error(msg, _PERCENT_FMT, "1%", "93%")]


def http_header_name(value: str) -> list[str]:
    if _matches(_HTTP_HEADER_FMT, value):
        return []
    msg = "a valid HTTP header must consist of alphanumeric characters or '-'"
    return [regex_error(msg, _HTTP_HEADER_FMT, "X-Header-Name")]


def env_var_name(value: str) -> list[str]:
    """The relaxed rule (GA in 1.34): printable ASCII other than ``=``."""
    errs = ["environment variable name must be non-empty"] if not value else []
    if any(not (" " <= ch <= "~") or ch == "=" for ch in value):
        errs.append("a valid environment variable name must consist only of printable ASCII characters other than '='")
    return errs


def config_map_key(value: str) -> list[str]:
    errs = [max_len_error(253)] if _size(value) > 253 else []
    if not _matches(_CONFIG_KEY_FMT, value):
        msg = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
        errs.append(regex_error(msg, _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value in (".", ".."):
        errs.append(f"must not be '{value}'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs
