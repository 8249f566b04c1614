"""Normalise an image's OS description into family, distro, release, edition and bitness.

Pure: no I/O, nothing read at import. ``parse_os`` never raises: an input that is not a
``str`` counts as absent, and what cannot be placed comes back as distro ``"unknown"``.

Sources, first that names a distro wins (a later one never overrides an earlier one):

1. ``os_version`` (Huawei ``__os_version``, e.g. ``"CentOS 7.6 64bit"``);
2. ``distro_hint`` / ``version_hint`` (Glance ``os_distro`` / ``os_version``);
3. ``platform`` (Huawei ``__platform``), with ``version_hint`` or a bare number left in
   ``os_version`` (``"9.6 64bit"``) as its version;
4. an ``os_version`` that says "linux" but no distro becomes ``other-linux``.

``version_hint`` also fills the release when ``os_version`` names a distro but no version.

Distro ids, by family:

* linux: ``centos``, ``centos-stream``, ``rhel``, ``rocky``, ``almalinux``,
  ``oraclelinux``, ``fedora``, ``debian``, ``ubuntu``, ``sles``, ``sled`` (SUSE desktop),
  ``opensuse``, ``euleros``, ``hce`` (Huawei Cloud EulerOS), ``openeuler``, ``kylin``,
  ``uos``, ``coreos``, ``arch``, ``gentoo``, ``other-linux``
* windows: ``windows-server``, ``windows`` (desktop: 7, 8.1, 10, 11, XP...),
  ``other-windows`` (Windows with no recognisable version, e.g. ``Other_Windows (64_bit)``)
* other: ``freebsd``, ``netbsd``, ``openbsd``, ``other`` (``Other(32 bit)``)
* unknown: ``unknown`` (family then comes from ``os_type``, else ``"unknown"``)

The family is a function of the distro, except for ``unknown``. ``other`` is refined by
``os_type``: with ``os_type="Linux"`` it becomes ``other-linux``, with ``"Windows"``
``other-windows``.

Release rules (``release`` is for grouping; the raw string stays in its own column):

* most distros keep ``major.minor`` (``7.6.1810`` -> ``7.6``, ``8.0`` stays ``8.0``) and an
  ``SPn`` suffix when present (``EulerOS 2.0 SP3``, ``openEuler 20.03 LTS SP3`` ->
  ``20.03 SP3``; ``LTS`` is dropped); Kylin's ``V10`` is ``10``;
* ubuntu keeps ``YY.MM`` with a two-digit month (``16.04.3`` -> ``16.04``); a few
  codenames (``xenial``...) are understood; edition ``Server``/``Desktop`` when written;
* debian keeps the major only (``10.0.0`` -> ``10``); codenames (``buster``...) understood;
* sles is ``N`` or ``N SPm``; ``12.2`` means ``12 SP2``;
* coreos, arch and gentoo keep the whole version (``1298.6.0``);
* windows-server is the year plus ``R2`` wherever ``R2`` is written (``2012 Essentials R2``
  -> ``2012 R2``); windows desktop is the major, plus a non-zero minor (``8.1``), or
  ``XP``/``Vista``. Editions: Datacenter, Standard, Enterprise, Essentials, Web,
  Professional, Home, Ultimate, Foundation, Education, Starter (``DC``/``Std``/``Pro``
  abbreviations understood);
* ``major`` is the leading integer of ``release`` (``2012 R2`` -> 2012), None when it has
  none or more than 9 digits.

Bitness: a marker in ``os_version`` (``64bit``, ``64 bit``, ``64-bit``, ``(64 bit)``,
``64_bit``, ``x86_64``/``amd64``/``aarch64``/``arm64``/``x64`` -> 64, ``i386``..``i686``
-> 32; a bare ``x86`` says nothing) wins over ``os_bit``; ``os_bit`` ("32"/"64") fills it
otherwise. CoreOS strings carry no bitness, so theirs comes from ``os_bit`` or is None.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from crawler.normalize.ostables import (
    ALIASES,
    BITS,
    CODENAMES,
    DETECT,
    DISTRO_FAMILIES,
    EDITION,
    EDITIONS,
    JUNK,
    LINUX_WORD,
    NUM,
    R2,
    SCHEMES,
    SP,
    TYPE_FAMILIES,
    WIN_OLD,
    OsFamily,
)

__all__ = ["OsInfo", "parse_os"]


@dataclass(frozen=True, slots=True)
class OsInfo:
    """One normalised OS description; see the module docstring for the rules."""

    family: OsFamily
    distro: str
    release: str | None
    major: int | None
    edition: str | None
    bits: int | None


# (detector key or distro id, release, edition)
_Found = tuple[str, str | None, str | None]


def _clean(text: str) -> str:
    return JUNK.sub(" ", text.lower()).strip()


def _split_bits(raw: str) -> tuple[int | None, str]:
    """Return the bitness a marker in ``raw`` states, and ``raw`` cleaned without it."""
    lowered = raw.lower()
    match = BITS.search(lowered)
    if match is None:
        return None, JUNK.sub(" ", lowered).strip()
    bits = 32 if match.group(1) == "32" or match.group(3) else 64
    return bits, JUNK.sub(" ", BITS.sub(" ", lowered)).strip()


def _detect(text: str) -> tuple[str, str] | None:
    """Return (detector key, the text around the name) or None."""
    alias = ALIASES.get(text)
    if alias is not None:
        return alias, ""
    match = DETECT.search(text)
    if match is None or match.lastgroup is None:
        return None
    key = "sled" if match[0] == "sled" else match.lastgroup.replace("_", "-")
    return key, f"{text[match.end() :]} {text[: match.start()]}"


def _windows(text: str) -> _Found:
    found = EDITION.search(text)
    edition = EDITIONS.get(found[1], found[1].capitalize()) if found else None
    number = NUM.search(text)
    if number and len(number[1]) == 4 and number[1][:2] in ("19", "20"):
        release = f"{number[1]} R2" if R2.search(text) else number[1]
        return "windows-server", release, edition
    if "server" in text.split():
        return "windows-server", None, edition
    if number:
        major, _, rest = number[1].partition(".")
        minor = rest.partition(".")[0]
        return "windows", f"{major}.{minor}" if minor.strip("0") else major, edition
    old = WIN_OLD.search(text)
    if old:
        return "windows", "XP" if old[1] == "xp" else "Vista", edition
    return "other-windows", None, edition


def _sp(text: str) -> str:
    found = SP.search(text)
    number = found[1].lstrip("0") if found else ""
    return f" SP{number}" if number else ""


def _release(key: str, text: str) -> _Found:
    """Return (distro, release, edition) for a detector key and the text around its name."""
    if key == "windows":
        return _windows(text)
    scheme = SCHEMES.get(key)
    words = text.split()
    edition = None
    if key == "ubuntu":
        edition = "Server" if "server" in words else "Desktop" if "desktop" in words else None
    elif key == "sles" and "desktop" in words:
        key = "sled"
    if scheme is None:
        return key, None, edition
    number = NUM.search(text)
    if number is None:
        if scheme in ("ubuntu", "major"):
            return key, next((CODENAMES[w] for w in words if w in CODENAMES), None), edition
        return key, None, edition
    parts = number[1].split(".")
    if scheme == "full":
        release = number[1]
    elif scheme == "major":
        release = parts[0]
    elif scheme == "ubuntu":
        release = f"{parts[0]}.{parts[1].zfill(2)}" if len(parts) > 1 else parts[0]
    elif scheme == "sles":  # "12.2" is how SUSE's own examples write 12 SP2
        release = parts[0] + (_sp(text) or (_sp(f"sp{parts[1]}") if len(parts) > 1 else ""))
    else:
        release = ".".join(parts[:2]) + _sp(text)
    return key, release, edition


def _major(release: str | None) -> int | None:
    if release is None:
        return None
    digits = release[: len(release) - len(release.lstrip("0123456789"))]
    return int(digits) if 0 < len(digits) <= 9 else None


def _type_family(os_type: str | None) -> OsFamily:
    if not os_type:
        return "unknown"
    text = _clean(os_type)
    family = TYPE_FAMILIES.get(text)
    if family is not None:
        return family
    found = _detect(text)  # documented oddity: __os_type "Suse"
    return DISTRO_FAMILIES.get(_release(*found)[0], "unknown") if found else "unknown"


def _from_name(name: str | None, version_text: str) -> _Found | None:
    if not name:
        return None
    found = _detect(_clean(name))
    return _release(found[0], f"{found[1]} {version_text}") if found else None


@lru_cache(maxsize=4096)
def _parse(
    os_version: str | None,
    platform: str | None,
    os_type: str | None,
    os_bit: str | None,
    distro_hint: str | None,
    version_hint: str | None,
) -> OsInfo:
    bits, text = _split_bits(os_version) if os_version else (None, "")
    if bits is None and os_bit:
        bit_text = os_bit.strip()
        bits = int(bit_text) if bit_text in ("32", "64") else _split_bits(bit_text)[0]
    hint = _clean(version_hint) if version_hint else ""
    found: _Found | None = None
    detected = _detect(text) if text else None
    if detected is not None:
        found = _release(*detected)
        if found[1] is None and hint:
            found = _release(detected[0], f"{detected[1]} {hint}")
    found = found or _from_name(distro_hint, hint or text) or _from_name(platform, hint or text)
    if found is None and LINUX_WORD.search(text):
        found = ("other-linux", None, None)
    if found is None:
        return OsInfo(_type_family(os_type), "unknown", None, None, None, bits)
    distro, release, edition = found
    if distro == "other":
        refined = _type_family(os_type)
        distro = {"linux": "other-linux", "windows": "other-windows"}.get(refined, "other")
    return OsInfo(DISTRO_FAMILIES[distro], distro, release, _major(release), edition, bits)


def _text(value: object) -> str | None:
    if type(value) is str:  # the usual case, and the cheapest test
        return value
    # str.__str__ turns a str subclass (whose __hash__/__eq__ may be odd) into a plain str.
    return str.__str__(value) if isinstance(value, str) else None


def parse_os(
    os_version: str | None,
    *,
    platform: str | None = None,
    os_type: str | None = None,
    os_bit: str | None = None,
    distro_hint: str | None = None,
    version_hint: str | None = None,
) -> OsInfo:
    """Normalise one image's OS fields; never raises (non-``str`` inputs count as None).

    Args:
        os_version: Huawei ``__os_version``, e.g. ``"Windows Server 2012 R2 Standard 64bit"``.
        platform: Huawei ``__platform``, e.g. ``"CentOS"``, ``"Other"``.
        os_type: Huawei ``__os_type`` (``"Linux"``, ``"Windows"``, ``"Other"``); gives the
            family when no distro is found and refines distro ``other``.
        os_bit: Huawei ``__os_bit`` (``"32"``/``"64"``); used when ``os_version`` has no
            bitness marker.
        distro_hint: Glance ``os_distro`` (``"ubuntu"``, ``"rhel"``, ``"sles"``...).
        version_hint: Glance ``os_version`` (``"16.04"``, ``"7"``).
    """
    return _parse(
        _text(os_version),
        _text(platform),
        _text(os_type),
        _text(os_bit),
        _text(distro_hint),
        _text(version_hint),
    )
