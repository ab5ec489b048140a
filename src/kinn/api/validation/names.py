"""Syntax checks for names, keys, ports and addresses, as k8s.io/apimachinery/pkg/util/validation.

Each `is_*` function returns the list of upstream message strings (empty when valid); callers wrap
each message in a field error, so the wording users see is exactly the API server's. The
`name_is_*` functions are the per-kind `ValidateNameFunc`s: `prefix=True` checks a `generateName`,
whose trailing dash is allowed because random characters follow it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Callable

NameValidator = Callable[[str, bool], list[str]]

DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
DNS1035_LABEL_MAX_LENGTH = 63
QUALIFIED_NAME_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"
_C_IDENTIFIER_FMT = "[A-Za-z_][A-Za-z0-9_]*"
_CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"
_PERCENT_FMT = "[0-9]+%"
_WILDCARD_DNS1123_SUBDOMAIN_FMT = "\\*\\." + _DNS1123_SUBDOMAIN_FMT

_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_QUALIFIED_NAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_C_IDENTIFIER_MSG = (
    "a valid C identifier must start with alphabetic character or '_', "
    "followed by a string of alphanumeric characters or '_'"
)
_CONFIG_MAP_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_RELAXED_ENV_VAR_NAME_MSG = "a valid environment variable name must consist only of printable ASCII characters other than '='"
_WILDCARD_DNS1123_SUBDOMAIN_MSG = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, "
    "which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character"
)


_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = re.compile(_DNS1035_LABEL_FMT)
_QUALIFIED_NAME_RE = re.compile(_QUALIFIED_NAME_FMT)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_C_IDENTIFIER_RE = re.compile(_C_IDENTIFIER_FMT)
_CONFIG_MAP_KEY_RE = re.compile(_CONFIG_MAP_KEY_FMT)
_PERCENT_RE = re.compile(_PERCENT_FMT)
_WILDCARD_DNS1123_SUBDOMAIN_RE = re.compile(_WILDCARD_DNS1123_SUBDOMAIN_FMT)
_PORT_NAME_CHARSET_RE = re.compile("[-a-z0-9]+")


def _matches(pattern: re.Pattern[str], value: str) -> bool:
    """Go's `^...$` match; fullmatch, because Python's `$` would also accept a trailing newline."""
    return pattern.fullmatch(value) is not None


# --- message builders (upstream `RegexError`, `MaxLenError`, …) ---


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """The exact text of upstream `RegexError`, including its odd `'x',  or 'y', ` punctuation."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    quoted = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {quoted}regex used for validation is '{fmt}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def empty_error() -> str:
    return "must be non-empty"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def _length_and_format(value: str, max_length: int, pattern: re.Pattern[str], msg: str, fmt: str,
                       *examples: str) -> list[str]:
    """The commonest rule: at most `max_length` characters, and `pattern` matches (each failure reported)."""
    errs = []
    if len(value) > max_length:
        errs.append(max_len_error(max_length))
    if not _matches(pattern, value):
        errs.append(regex_error(msg, fmt, *examples))
    return errs


# --- DNS names ---


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _matches(_DNS1123_LABEL_RE, value):
        if _matches(_DNS1123_SUBDOMAIN_RE, value):
            # A valid subdomain but not a label: with the length checked, only dots can be wrong.
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    return _length_and_format(value, DNS1123_SUBDOMAIN_MAX_LENGTH, _DNS1123_SUBDOMAIN_RE,
                              _DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com")


def is_dns1035_label(value: str) -> list[str]:
    return _length_and_format(value, DNS1035_LABEL_MAX_LENGTH, _DNS1035_LABEL_RE,
                              _DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123")


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    return _length_and_format(value, DNS1123_SUBDOMAIN_MAX_LENGTH, _WILDCARD_DNS1123_SUBDOMAIN_RE,
                              _WILDCARD_DNS1123_SUBDOMAIN_MSG, _WILDCARD_DNS1123_SUBDOMAIN_FMT, "*.example.com")


# --- qualified names (label keys, annotation keys, finalizers) and label values ---


def is_qualified_name(value: str) -> list[str]:
    """`[prefix/]name`: an optional DNS subdomain prefix and a 63-character name part."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + empty_error())
        else:
            errs.extend("prefix part " + msg for msg in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part " + empty_error())
    elif len(name) > QUALIFIED_NAME_MAX_LENGTH:
        errs.append("name part " + max_len_error(QUALIFIED_NAME_MAX_LENGTH))
    if not _matches(_QUALIFIED_NAME_RE, name):
        errs.append(
            "name part " + regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def is_valid_label_value(value: str) -> list[str]:
    return _length_and_format(value, LABEL_VALUE_MAX_LENGTH, _LABEL_VALUE_RE,
                              _LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345")


# --- identifiers and keys ---


def is_c_identifier(value: str) -> list[str]:
    if _matches(_C_IDENTIFIER_RE, value):
        return []
    return [regex_error(_C_IDENTIFIER_MSG, _C_IDENTIFIER_FMT, "my_name", "MY_NAME", "MyName")]


def is_env_var_name(value: str) -> list[str]:
    """Container env names, as 1.32 checks them: RelaxedEnvironmentVariableValidation is beta (on),
    so any printable ASCII except '=' is accepted."""
    errs = []
    if not value:
        errs.append("environment variable name " + empty_error())
    if any(not (" " <= ch <= "~") or ch == "=" for ch in value):
        errs.append(_RELAXED_ENV_VAR_NAME_MSG)
    return errs


def _has_chdir_prefix(value: str) -> list[str]:
    """Keys become file names in volumes, so `.`/`..` would escape the directory."""
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_config_map_key(value: str) -> list[str]:
    """ConfigMap and Secret data keys."""
    return _length_and_format(value, DNS1123_SUBDOMAIN_MAX_LENGTH, _CONFIG_MAP_KEY_RE, _CONFIG_MAP_KEY_MSG,
                              _CONFIG_MAP_KEY_FMT, "key.name", "KEY_NAME", "key-name") + _has_chdir_prefix(value)


def is_valid_percent(value: str) -> list[str]:
    if _matches(_PERCENT_RE, value):
        return []
    return [
        regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'", _PERCENT_FMT, "1%", "93%"
        )
    ]


# --- ports ---


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_in_range(value: int, lo: int, hi: int) -> list[str]:
    return [] if lo <= value <= hi else [inclusive_range_error(lo, hi)]


def is_valid_port_name(port: str) -> list[str]:
    """An IANA_SVC_NAME (RFC 6335), lower case only."""
    errs = []
    if len(port) > 15:
        errs.append(max_len_error(15))
    if not _matches(_PORT_NAME_CHARSET_RE, port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


# --- IP addresses ---


def parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Go's `netutils.ParseIPSloppy`: like net.ParseIP but tolerating leading zeros in IPv4 octets."""
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        pass
    parts = value.split(".")
    if len(parts) == 4 and all(p.isdigit() and p.isascii() and len(p) <= 3 for p in parts):
        octets = [int(p) for p in parts]
        if all(o <= 255 for o in octets):
            return ipaddress.IPv4Address(".".join(map(str, octets)))
    return None


def parse_cidr(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """Go's `netutils.ParseCIDRSloppy`: host bits may be set (`10.0.0.1/24` is a valid CIDR value)."""
    addr, sep, bits = value.partition("/")
    ip = parse_ip(addr)
    if not sep or ip is None or not bits.isdigit() or not bits.isascii():
        return None
    try:
        return ipaddress.ip_network(f"{ip}/{int(bits)}", strict=False)
    except ValueError:
        return None


def is_valid_ip(value: str) -> list[str]:
    return [] if parse_ip(value) is not None else ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]


def is_valid_ipv4_address(value: str) -> list[str]:
    return [] if isinstance(parse_ip(value), ipaddress.IPv4Address) else ["must be a valid IPv4 address"]


def is_valid_ipv6_address(value: str) -> list[str]:
    return [] if isinstance(parse_ip(value), ipaddress.IPv6Address) else ["must be a valid IPv6 address"]


def is_valid_cidr(value: str) -> list[str]:
    return [] if parse_cidr(value) is not None else ["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]


# --- per-kind name validators (upstream ValidateNameFunc) ---


def _mask_trailing_dash(name: str) -> str:
    """A generateName may end in '-': random characters follow, so check it as if they already did."""
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def validate_path_segment_name(name: str, prefix: bool) -> list[str]:
    """Names that only need to be one URL path segment (RBAC roles, CRD-less kinds)."""
    if not prefix and name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]

