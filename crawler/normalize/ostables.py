"""Data tables for ``crawler.normalize.osinfo``: distro families, aliases, codenames, patterns.

Pure data: patterns are compiled once, at import; nothing here does I/O. The rules that use
these tables are documented in ``crawler.normalize.osinfo``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

__all__ = [
    "ALIASES",
    "BITS",
    "CODENAMES",
    "DETECT",
    "DISTRO_FAMILIES",
    "EDITION",
    "EDITIONS",
    "JUNK",
    "LINUX_WORD",
    "NUM",
    "R2",
    "SCHEMES",
    "SP",
    "TYPE_FAMILIES",
    "WIN_OLD",
    "OsFamily",
]

OsFamily = Literal["linux", "windows", "other", "unknown"]


_LINUX: Final = (
    *("centos", "centos-stream", "rhel", "rocky", "almalinux", "oraclelinux", "fedora"),
    *("debian", "ubuntu", "sles", "sled", "opensuse", "euleros", "hce", "openeuler"),
    *("kylin", "uos", "coreos", "arch", "gentoo", "other-linux"),
)
#: Every distro id ``parse_os`` returns, with its family.
DISTRO_FAMILIES: Final[Mapping[str, OsFamily]] = MappingProxyType(
    {
        **dict.fromkeys(_LINUX, "linux"),
        **dict.fromkeys(("windows-server", "windows", "other-windows"), "windows"),
        **dict.fromkeys(("freebsd", "netbsd", "openbsd", "other"), "other"),
        "unknown": "unknown",
    }
)

# Release schemes, by detector key (the key "windows" has its own function in osinfo).
SCHEMES: Final[Mapping[str, str]] = {
    **dict.fromkeys(
        (
            *("centos", "centos-stream", "rhel", "rocky", "almalinux", "oraclelinux"),
            *("fedora", "opensuse", "euleros", "hce", "openeuler", "kylin", "uos"),
            *("freebsd", "netbsd", "openbsd"),
        ),
        "minor",
    ),
    **dict.fromkeys(("coreos", "arch", "gentoo"), "full"),
    "ubuntu": "ubuntu",
    "debian": "major",
    "sles": "sles",
    "sled": "sles",
}

# Bitness markers, matched on the lower-cased raw text (before punctuation is dropped).
BITS: Final = re.compile(
    r"(?<![0-9.])(32|64)[\s_-]*(?:bits?|位)(?![a-z])"
    r"|(x86[_-]?64|amd64|aarch64|arm64|ppc64(?:le)?|s390x|(?<![a-z0-9])x64(?![0-9]))"
    r"|(i[3-6]86)",
    re.ASCII,
)
JUNK: Final = re.compile(r"[^a-z0-9.]+", re.ASCII)

# One pass finds the leftmost distro name; at one position the first alternative wins, so
# longer names come before their prefixes (openeuler/euler, opensuse/suse, centos stream).
DETECT: Final = re.compile(
    r"""
      (?P<other_linux>^other\s?linux)
    | (?P<other_windows>^other\s?windows)
    | (?P<other>^other(?![a-z]))
    | (?P<centos_stream>cent\s?os\s?stream)
    | (?P<centos>cent\s?os)
    | (?P<rhel>red\s?hat|rhel)
    | (?P<oraclelinux>oracle|(?<![a-z])oel(?![a-z])|(?<![a-z])ol(?=\s?[0-9]))
    | (?P<ubuntu>ubuntu)
    | (?P<debian>debian)
    | (?P<opensuse>open\s?suse)
    | (?P<sles>suse|(?<![a-z])sle[sd](?![a-z]))
    | (?P<openeuler>open\s?euler)
    | (?P<hce>huawei\s?cloud\s?euler\s?os|(?<![a-z])hce(?![a-z]))
    | (?P<euleros>euler\s?os|euler)
    | (?P<coreos>core\s?os)
    | (?P<fedora>fedora)
    | (?P<rocky>rocky)
    | (?P<almalinux>alma\s?linux|(?<![a-z])alma(?![a-z]))
    | (?P<kylin>kylin)
    | (?P<uos>union\s?tech|(?<![a-z])uos(?![a-z]))
    | (?P<freebsd>free\s?bsd)
    | (?P<netbsd>net\s?bsd)
    | (?P<openbsd>open\s?bsd)
    | (?P<arch>arch\s?linux)
    | (?P<gentoo>gentoo)
    | (?P<windows>windows|(?<![a-z])win(?=\s?(?:[0-9]|server|xp)))
    """,
    re.VERBOSE | re.ASCII,
)
# Glance os_distro values the detector does not spell out.
ALIASES: Final[Mapping[str, str]] = {
    "ol": "oraclelinux",
    "arch": "arch",
    "win": "windows",
    "mswindows": "windows",
    "ms windows": "windows",
}

NUM: Final = re.compile(r"(?<![a-z0-9.])v?([0-9]+(?:\.[0-9]+)*)", re.ASCII)
SP: Final = re.compile(r"(?<![a-z])sp\s?([0-9]+)", re.ASCII)
R2: Final = re.compile(r"(?<![a-z])r2(?![a-z0-9])", re.ASCII)
LINUX_WORD: Final = re.compile(r"(?<![a-z])linux(?![a-z])", re.ASCII)
WIN_OLD: Final = re.compile(r"(?<![a-z])(xp|vista)(?![a-z])", re.ASCII)
EDITION: Final = re.compile(
    r"(?<![a-z])(datacenter|data\scenter|dc|standard|std|enterprise|essentials|web"
    r"|professional|pro|home|ultimate|foundation|education|starter)(?![a-z])",
    re.ASCII,
)
EDITIONS: Final[Mapping[str, str]] = {
    "data center": "Datacenter",
    "dc": "Datacenter",
    "std": "Standard",
    "pro": "Professional",
}
CODENAMES: Final[Mapping[str, str]] = {
    "trusty": "14.04",
    "xenial": "16.04",
    "bionic": "18.04",
    "focal": "20.04",
    "jammy": "22.04",
    "noble": "24.04",
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
}
TYPE_FAMILIES: Final[Mapping[str, OsFamily]] = {
    "linux": "linux",
    "windows": "windows",
    "other": "other",
}
