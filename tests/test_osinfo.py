"""The OS normaliser: a table of spellings, a never-raises property, the documented lists."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.normalize.osinfo import OsInfo, parse_os
from crawler.normalize.ostables import DISTRO_FAMILIES, OsFamily

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def linux(distro: str, release: str | None, major: int | None, bits: int | None) -> OsInfo:
    return OsInfo("linux", distro, release, major, None, bits)


def win(distro: str, release: str | None, major: int | None, edition: str | None) -> OsInfo:
    return OsInfo("windows", distro, release, major, edition, 64)


def ubuntu(release: str, major: int, bits: int | None = 64) -> OsInfo:
    return OsInfo("linux", "ubuntu", release, major, "Server", bits)


UNKNOWN = OsInfo("unknown", "unknown", None, None, None, None)

# (os_version, keyword arguments, expected)
TABLE: list[tuple[object, dict[str, Any], OsInfo]] = [
    # Red Hat, in every documented spelling
    ("Redhat Linux Enterprise 7.4 64bit", {}, linux("rhel", "7.4", 7, 64)),
    ("Red Hat 7.6 64bit", {}, linux("rhel", "7.6", 7, 64)),
    ("Redhat 7.6 64bit", {}, linux("rhel", "7.6", 7, 64)),
    ("RedHat Linux Enterprise 8.0 64bit", {}, linux("rhel", "8.0", 8, 64)),
    ("Red Hat Linux Enterprise 9.1 64bit", {}, linux("rhel", "9.1", 9, 64)),
    ("Red Hat Linux Enterprise 6.10 64bit", {}, linux("rhel", "6.10", 6, 64)),
    ("Redhat Linux Enterprise 6.4 32bit", {}, linux("rhel", "6.4", 6, 32)),
    ("Red Hat Enterprise Linux 8.4 (x86_64)", {}, linux("rhel", "8.4", 8, 64)),
    ("RHEL8.4", {}, linux("rhel", "8.4", 8, None)),
    # Ubuntu: YY.MM only; "Server" edition whatever its case
    ("Ubuntu 16.04.3 Server 64bit", {}, ubuntu("16.04", 16)),
    ("Ubuntu 16.04.2 Server 64bit", {}, ubuntu("16.04", 16)),
    ("Ubuntu 19.04 server 64bit", {}, ubuntu("19.04", 19)),
    ("Ubuntu 18.04 server 64bit", {}, ubuntu("18.04", 18)),
    ("Ubuntu 14.04.4 server 32bit", {}, ubuntu("14.04", 14, 32)),
    ("Ubuntu 22.04 Server 64bit", {}, ubuntu("22.04", 22)),
    ("ubuntu   20.04   SERVER   64-bit", {}, ubuntu("20.04", 20)),
    ("Ubuntu 16.4", {}, OsInfo("linux", "ubuntu", "16.04", 16, None, None)),
    ("Ubuntu 22.04 LTS desktop i386", {}, OsInfo("linux", "ubuntu", "22.04", 22, "Desktop", 32)),
    ("Ubuntu 18.04 64位", {}, OsInfo("linux", "ubuntu", "18.04", 18, None, 64)),
    # Windows Server: year + R2 wherever R2 is written, edition
    (
        "Windows Server 2012 Essentials R2 64bit",
        {},
        win("windows-server", "2012 R2", 2012, "Essentials"),
    ),
    (
        "Windows Server 2012 R2 Essentials 64bit",
        {},
        win("windows-server", "2012 R2", 2012, "Essentials"),
    ),
    ("Windows Server 2008 WEB R2 64bit", {}, win("windows-server", "2008 R2", 2008, "Web")),
    ("Windows Server 2008 R2 WEB 64bit", {}, win("windows-server", "2008 R2", 2008, "Web")),
    (
        "Windows Server 2008 R2 Enterprise 64bit",
        {},
        win("windows-server", "2008 R2", 2008, "Enterprise"),
    ),
    (
        "Windows Server 2012 R2 Standard 64bit",
        {},
        win("windows-server", "2012 R2", 2012, "Standard"),
    ),
    ("Windows Server 2012 Datacenter 64bit", {}, win("windows-server", "2012", 2012, "Datacenter")),
    ("Windows Server 2016 Datacenter 64bit", {}, win("windows-server", "2016", 2016, "Datacenter")),
    ("Windows Server 2019 Standard 64bit", {}, win("windows-server", "2019", 2019, "Standard")),
    ("Windows Server 2022 Datacenter 64bit", {}, win("windows-server", "2022", 2022, "Datacenter")),
    (
        "Windows Server 2019 Datacenter 64bit English",
        {},
        win("windows-server", "2019", 2019, "Datacenter"),
    ),
    (
        "Windows 2012DC edition",
        {"os_bit": "64"},
        win("windows-server", "2012", 2012, "Datacenter"),
    ),
    ("win2019", {"os_bit": "64"}, win("windows-server", "2019", 2019, None)),
    (
        "Windows Server",
        {"version_hint": "2016", "os_bit": "64"},
        win("windows-server", "2016", 2016, None),
    ),
    # Windows desktop
    ("Windows 7 Professional 32bit", {}, OsInfo("windows", "windows", "7", 7, "Professional", 32)),
    ("Windows 7 Enterprise 64bit", {}, win("windows", "7", 7, "Enterprise")),
    ("Windows 10 64bit", {}, win("windows", "10", 10, None)),
    ("Windows 8.1 Pro 64bit", {}, win("windows", "8.1", 8, "Professional")),
    ("Windows 11 Home x64", {}, win("windows", "11", 11, "Home")),
    ("Windows 10 2004", {"os_bit": "64"}, win("windows", "10", 10, None)),
    ("Windows XP", {"os_bit": "64"}, win("windows", "XP", None, None)),
    ("win10", {"os_bit": "64"}, win("windows", "10", 10, None)),
    ("Windows 64bit", {}, win("other-windows", None, None, None)),
    # SUSE: "N SPm"; 12.2 means SP2
    ("SUSE Linux Enterprise Server 15 SP1 64bit", {}, linux("sles", "15 SP1", 15, 64)),
    ("SUSE Linux Enterprise Server 12 64bit", {}, linux("sles", "12", 12, 64)),
    ("SUSE Linux Enterprise Server 11 SP3 32bit", {}, linux("sles", "11 SP3", 11, 32)),
    ("Suse Linux Enterprise 12.2 64bit", {}, linux("sles", "12 SP2", 12, 64)),
    ("SLES 12.0", {"os_bit": "64"}, linux("sles", "12", 12, 64)),
    ("SLES12SP4", {}, linux("sles", "12 SP4", 12, None)),
    ("SUSE Linux Enterprise Desktop 15 SP1 64bit", {}, linux("sled", "15 SP1", 15, 64)),
    # openSUSE
    ("openSUSE 42.3 64bit", {}, linux("opensuse", "42.3", 42, 64)),
    ("OpenSUSE 15.1 64bit", {}, linux("opensuse", "15.1", 15, 64)),
    ("openSUSE Leap 15.5 x86_64", {}, linux("opensuse", "15.5", 15, 64)),
    # Oracle Linux
    ("Oracle Linux Server release 7.6 64bit", {}, linux("oraclelinux", "7.6", 7, 64)),
    ("Oracle Linux Server release 6.10 64bit", {}, linux("oraclelinux", "6.10", 6, 64)),
    ("OL8.4 64-bit", {}, linux("oraclelinux", "8.4", 8, 64)),
    # CentOS
    ("CentOS 7.6 64bit", {}, linux("centos", "7.6", 7, 64)),
    ("CentOS 4.4 32bit", {}, linux("centos", "4.4", 4, 32)),
    ("CentOS 8.0 64bit", {}, linux("centos", "8.0", 8, 64)),
    ("CentOS 6.10 32bit", {}, linux("centos", "6.10", 6, 32)),
    ("  centos   7.9   (64 BIT) ", {}, linux("centos", "7.9", 7, 64)),
    ("CentOS7.6.1810 x86_64", {}, linux("centos", "7.6", 7, 64)),
    ("CentOS Stream 9 64bit", {}, linux("centos-stream", "9", 9, 64)),
    # Debian: the major is the release
    ("Debian GNU/Linux 10.0.0 64bit", {}, linux("debian", "10", 10, 64)),
    ("Debian GNU/Linux 9.3.0 64bit", {}, linux("debian", "9", 9, 64)),
    ("Debian GNU/Linux 8.10.0 64bit", {}, linux("debian", "8", 8, 64)),
    ("Debian GNU/Linux 12.0.0 64bit", {}, linux("debian", "12", 12, 64)),
    # Fedora
    ("Fedora 30 64bit", {}, linux("fedora", "30", 30, 64)),
    ("Fedora 32 64bit", {}, linux("fedora", "32", 32, 64)),
    # EulerOS family
    ("EulerOS 2.9 64bit", {}, linux("euleros", "2.9", 2, 64)),
    ("EulerOS 2.12 64bit", {}, linux("euleros", "2.12", 2, 64)),
    ("EulerOS 2.0 SP3 64bit", {}, linux("euleros", "2.0 SP3", 2, 64)),
    ("Huawei Cloud EulerOS 2.0 64bit", {}, linux("hce", "2.0", 2, 64)),
    ("openEuler 20.03 SP3 64bit", {}, linux("openeuler", "20.03 SP3", 20, 64)),
    ("openEuler 22.03 64bit", {}, linux("openeuler", "22.03", 22, 64)),
    ("openEuler 20.03-LTS-SP1 aarch64", {}, linux("openeuler", "20.03 SP1", 20, 64)),
    # CoreOS: no bitness in the string
    ("CoreOS 1298.6.0", {}, linux("coreos", "1298.6.0", 1298, None)),
    ("CoreOS 1068.10.0", {"os_bit": "64"}, linux("coreos", "1068.10.0", 1068, 64)),
    # Other documented and found distros
    ("Rocky Linux 9.2 64bit", {}, linux("rocky", "9.2", 9, 64)),
    ("AlmaLinux 8.8 64bit", {}, linux("almalinux", "8.8", 8, 64)),
    ("Kylin Linux Advanced Server V10 SP2 64bit", {}, linux("kylin", "10 SP2", 10, 64)),
    ("UOS Server 20 1060e 64bit", {}, linux("uos", "20", 20, 64)),
    ("Arch Linux 2023.01.01", {}, linux("arch", "2023.01.01", 2023, None)),
    ("FreeBSD 13.2-RELEASE amd64", {}, OsInfo("other", "freebsd", "13.2", 13, None, 64)),
    ("NetBSD 9.3 amd64", {}, OsInfo("other", "netbsd", "9.3", 9, None, 64)),
    ("OpenBSD 7.4 i386", {}, OsInfo("other", "openbsd", "7.4", 7, None, 32)),
    ("Gentoo Linux 64bit", {}, linux("gentoo", None, None, 64)),
    # "Other..." shapes
    ("Other Linux(64 bit)", {}, linux("other-linux", None, None, 64)),
    ("Other Linux (64 bit)", {}, linux("other-linux", None, None, 64)),
    ("Other_Linux (32_bit)", {}, linux("other-linux", None, None, 32)),
    ("Other_Windows (64_bit)", {}, win("other-windows", None, None, None)),
    ("Other(32 bit)", {}, OsInfo("other", "other", None, None, None, 32)),
    ("Other(32 bit)", {"os_type": "Linux"}, linux("other-linux", None, None, 32)),
    ("my custom linux build", {}, linux("other-linux", None, None, None)),
    # bitness: the string wins over os_bit, os_bit fills a gap
    ("CentOS 7.6 32bit", {"os_bit": "64"}, linux("centos", "7.6", 7, 32)),
    ("CentOS 7.6", {"os_bit": " 32 "}, linux("centos", "7.6", 7, 32)),
    ("CentOS 7.6", {"os_bit": "64bit"}, linux("centos", "7.6", 7, 64)),
    ("CentOS 7.6", {"os_bit": "128"}, linux("centos", "7.6", 7, None)),
    # Glance hints, when os_version says nothing
    (None, {"distro_hint": "ubuntu", "version_hint": "16.04"}, linux("ubuntu", "16.04", 16, None)),
    (None, {"distro_hint": "ubuntu", "version_hint": "jammy"}, linux("ubuntu", "22.04", 22, None)),
    (None, {"distro_hint": "centos", "version_hint": "7"}, linux("centos", "7", 7, None)),
    (None, {"distro_hint": "rhel", "version_hint": "8.6"}, linux("rhel", "8.6", 8, None)),
    (None, {"distro_hint": "sles", "version_hint": "12 SP4"}, linux("sles", "12 SP4", 12, None)),
    (None, {"distro_hint": "sles", "version_hint": "12.3"}, linux("sles", "12 SP3", 12, None)),
    (None, {"distro_hint": "debian", "version_hint": "buster"}, linux("debian", "10", 10, None)),
    (None, {"distro_hint": "ol", "version_hint": "8.4"}, linux("oraclelinux", "8.4", 8, None)),
    ("", {"distro_hint": "oel", "version_hint": "7.9"}, linux("oraclelinux", "7.9", 7, None)),
    (
        None,
        {"distro_hint": "opensuse", "version_hint": "15.5"},
        linux("opensuse", "15.5", 15, None),
    ),
    (None, {"distro_hint": "fedora", "version_hint": "39"}, linux("fedora", "39", 39, None)),
    (None, {"distro_hint": "arch"}, linux("arch", None, None, None)),
    (
        None,
        {"distro_hint": "windows", "version_hint": "2012 R2", "os_bit": "64"},
        win("windows-server", "2012 R2", 2012, None),
    ),
    (
        None,
        {"distro_hint": "windows", "version_hint": "10", "os_bit": "64"},
        win("windows", "10", 10, None),
    ),
    (None, {"distro_hint": "windows", "os_bit": "64"}, win("other-windows", None, None, None)),
    (
        None,
        {"distro_hint": "freebsd", "version_hint": "13.2"},
        OsInfo("other", "freebsd", "13.2", 13, None, None),
    ),
    ("CentOS", {"version_hint": "7.9"}, linux("centos", "7.9", 7, None)),
    # the string wins over the hints
    (
        "CentOS 7.6 64bit",
        {"distro_hint": "ubuntu", "version_hint": "18.04"},
        linux("centos", "7.6", 7, 64),
    ),
    # platform fallback
    (
        "",
        {"platform": "CentOS", "os_type": "Linux", "os_bit": "64"},
        linux("centos", None, None, 64),
    ),
    ("garbage", {"platform": "Red Hat"}, linux("rhel", None, None, None)),
    ("9.6 64bit", {"platform": "CentOS"}, linux("centos", "9.6", 9, 64)),
    ("xyz", {"platform": "Suse", "version_hint": "12 SP5"}, linux("sles", "12 SP5", 12, None)),
    ("xyz", {"platform": "Other", "os_type": "Linux"}, linux("other-linux", None, None, None)),
    ("xyz", {"platform": "Other"}, OsInfo("other", "other", None, None, None, None)),
    (
        "xyz",
        {"platform": "Windows", "os_type": "Windows"},
        OsInfo("windows", "other-windows", None, None, None, None),
    ),
    (None, {"distro_hint": "plan9", "platform": "Ubuntu"}, linux("ubuntu", None, None, None)),
    # unknown garbage: family from os_type only
    (
        "xyz",
        {"os_type": "Windows", "os_bit": "32"},
        OsInfo("windows", "unknown", None, None, None, 32),
    ),
    ("xyz", {"os_type": "Suse"}, OsInfo("linux", "unknown", None, None, None, None)),
    ("xyz", {"os_type": "Other"}, OsInfo("other", "unknown", None, None, None, None)),
    ("7.6 64bit", {}, OsInfo("unknown", "unknown", None, None, None, 64)),
    ("", {}, UNKNOWN),
    (None, {}, UNKNOWN),
    (None, {"version_hint": "7.6"}, UNKNOWN),
    # non-str inputs count as absent
    (42, {"os_bit": 64, "platform": ["CentOS"], "os_type": b"Linux"}, UNKNOWN),
    (b"CentOS 7.6 64bit", {}, UNKNOWN),
]


@pytest.mark.parametrize(("os_version", "kwargs", "expected"), TABLE)
def test_table(os_version: Any, kwargs: dict[str, Any], expected: OsInfo) -> None:
    assert parse_os(os_version, **kwargs) == expected


def test_table_covers_every_distro() -> None:
    seen = {expected.distro for _, _, expected in TABLE}
    assert set(DISTRO_FAMILIES) <= seen
    assert len(TABLE) >= 80


def test_str_subclass_is_a_str() -> None:
    class Tagged(str):
        def __hash__(self) -> int:
            raise TypeError("unhashable on purpose")

    assert parse_os(Tagged("CentOS 7.6 64bit")) == linux("centos", "7.6", 7, 64)


FAMILIES = set(get_args(OsFamily))
maybe_text = st.none() | st.text(max_size=40) | st.sampled_from(["Linux", "Windows", "64", "32"])


@given(
    os_version=st.none() | st.text(),
    platform=maybe_text,
    os_type=maybe_text,
    os_bit=maybe_text,
    distro_hint=maybe_text,
    version_hint=maybe_text,
)
def test_never_raises_and_well_typed(
    os_version: str | None,
    platform: str | None,
    os_type: str | None,
    os_bit: str | None,
    distro_hint: str | None,
    version_hint: str | None,
) -> None:
    info = parse_os(
        os_version,
        platform=platform,
        os_type=os_type,
        os_bit=os_bit,
        distro_hint=distro_hint,
        version_hint=version_hint,
    )
    assert info.family in FAMILIES
    assert isinstance(info.distro, str)
    assert info.distro
    assert info.distro == info.distro.lower()
    assert info.distro in DISTRO_FAMILIES
    if info.distro != "unknown":
        assert info.family == DISTRO_FAMILIES[info.distro]
    assert info.release is None or (isinstance(info.release, str) and info.release)
    assert info.major is None or (type(info.major) is int and info.major >= 0)
    assert info.bits in (None, 32, 64)
    assert info.edition is None or isinstance(info.edition, str)


@given(st.lists(st.none() | st.integers() | st.binary() | st.floats(), min_size=6, max_size=6))
def test_non_str_inputs_count_as_absent(values: list[Any]) -> None:
    version, platform, os_type, os_bit, distro_hint, version_hint = values
    info = parse_os(
        version,
        platform=platform,
        os_type=os_type,
        os_bit=os_bit,
        distro_hint=distro_hint,
        version_hint=version_hint,
    )
    assert info == UNKNOWN


def _documented(name: str) -> list[str]:
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("name", ["os_versions.txt", "os_versions_extra.txt"])
def test_documented_spellings(name: str) -> None:
    for line in _documented(name):
        info = parse_os(line)
        if line.lower().startswith("other"):
            assert info.distro in ("other", "other-linux"), line
        else:
            assert info.distro != "unknown", line
            assert info.release is not None, line
        if line.lower().startswith("coreos"):
            assert info.bits is None, line
        else:
            assert info.bits in (32, 64), line
