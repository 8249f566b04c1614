"""Catalogue of Huawei Cloud / Open Telekom Cloud ``__os_version`` spellings.

Pure data: every entry is written out by hand from the documented IMS tables ("Values of
Related Parameters", the UMN list of supported OSs and the API examples), with the
``__platform``, ``__os_type`` and ``__os_bit`` that belong with it. Spellings are kept
exactly as documented, including the odd ones (``Redhat 7.6 64bit`` next to
``Red Hat 7.6 64bit``, ``Ubuntu 16.04.3 Server`` next to lower-case ``server``, CoreOS
without bitness), because those odd spellings are what a parser downstream must survive.

Weights say how often the simulator hands a version out; popular images (CentOS 7.x,
Ubuntu 18.04/16.04, Windows Server 2016/2019, EulerOS 2.x) get large ones.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OS_CATALOG", "OS_TYPES", "PLATFORMS", "OsEntry"]

#: Documented ``__platform`` enum (IMS "Image Attributes").
PLATFORMS = frozenset(
    {
        "Windows",
        "Ubuntu",
        "Red Hat",
        "SUSE",
        "CentOS",
        "Debian",
        "OpenSUSE",
        "Oracle Linux",
        "Fedora",
        "Other",
        "CoreOS",
        "EulerOS",
    }
)

#: Documented ``__os_type`` enum.
OS_TYPES = frozenset({"Linux", "Windows", "Other"})


@dataclass(frozen=True, slots=True)
class OsEntry:
    """One ``__os_version`` value and the attributes that go with it."""

    version: str
    platform: str
    os_type: str
    bit: str
    weight: int


# (platform, os_type) -> rows of (__os_version, __os_bit, weight)
_TABLE: dict[tuple[str, str], tuple[tuple[str, str, int], ...]] = {
    ("Windows", "Windows"): (
        ("Windows Server 2019 Datacenter 64bit", "64", 40),
        ("Windows Server 2019 Standard 64bit", "64", 25),
        ("Windows Server 2016 Datacenter 64bit", "64", 35),
        ("Windows Server 2016 Standard 64bit", "64", 25),
        ("Windows Server 2012 R2 Datacenter 64bit", "64", 12),
        ("Windows Server 2012 R2 Standard 64bit", "64", 10),
        ("Windows Server 2012 Essentials R2 64bit", "64", 2),
        ("Windows Server 2012 R2 Essentials 64bit", "64", 1),
        ("Windows Server 2012 Datacenter 64bit", "64", 4),
        ("Windows Server 2012 Standard 64bit", "64", 4),
        ("Windows Server 2008 R2 Datacenter 64bit", "64", 3),
        ("Windows Server 2008 R2 Enterprise 64bit", "64", 3),
        ("Windows Server 2008 R2 Standard 64bit", "64", 3),
        ("Windows Server 2008 R2 WEB 64bit", "64", 1),
        ("Windows Server 2008 WEB R2 64bit", "64", 1),
        ("Windows Server 2022 Datacenter 64bit", "64", 6),
        ("Windows Server 2022 Standard 64bit", "64", 4),
        ("Windows 10 64bit", "64", 3),
        ("Windows 7 Enterprise 64bit", "64", 1),
        ("Windows 7 Professional 64bit", "64", 1),
        ("Windows 7 Professional 32bit", "32", 1),
    ),
    ("SUSE", "Linux"): (
        ("SUSE Linux Enterprise Server 15 SP5 64bit", "64", 3),
        ("SUSE Linux Enterprise Server 15 SP4 64bit", "64", 3),
        ("SUSE Linux Enterprise Server 15 SP3 64bit", "64", 2),
        ("SUSE Linux Enterprise Server 15 SP2 64bit", "64", 2),
        ("SUSE Linux Enterprise Server 15 SP1 64bit", "64", 3),
        ("SUSE Linux Enterprise Server 15 64bit", "64", 2),
        ("SUSE Linux Enterprise Server 12 SP5 64bit", "64", 3),
        ("SUSE Linux Enterprise Server 12 SP4 64bit", "64", 3),
        ("SUSE Linux Enterprise Server 12 SP3 64bit", "64", 2),
        ("SUSE Linux Enterprise Server 12 SP2 64bit", "64", 2),
        ("SUSE Linux Enterprise Server 12 SP1 64bit", "64", 1),
        ("SUSE Linux Enterprise Server 12 64bit", "64", 1),
        ("SUSE Linux Enterprise Server 11 SP4 64bit", "64", 2),
        ("SUSE Linux Enterprise Server 11 SP3 64bit", "64", 1),
        ("SUSE Linux Enterprise Server 11 SP3 32bit", "32", 1),
        ("SUSE Linux Enterprise Server 11 SP1 64bit", "64", 1),
        ("SUSE Linux Enterprise Server 11 SP1 32bit", "32", 1),
        ("Suse Linux Enterprise 12.2 64bit", "64", 1),
    ),
    ("Oracle Linux", "Linux"): (
        ("Oracle Linux Server release 7.6 64bit", "64", 3),
        ("Oracle Linux Server release 7.5 64bit", "64", 2),
        ("Oracle Linux Server release 7.4 64bit", "64", 2),
        ("Oracle Linux Server release 7.3 64bit", "64", 1),
        ("Oracle Linux Server release 7.2 64bit", "64", 1),
        ("Oracle Linux Server release 7.1 64bit", "64", 1),
        ("Oracle Linux Server release 7.0 64bit", "64", 1),
        ("Oracle Linux Server release 6.10 64bit", "64", 1),
        ("Oracle Linux Server release 6.9 64bit", "64", 1),
        ("Oracle Linux Server release 6.8 64bit", "64", 1),
        ("Oracle Linux Server release 6.7 64bit", "64", 1),
        ("Oracle Linux Server release 6.5 64bit", "64", 1),
    ),
    ("Red Hat", "Linux"): (
        ("Redhat Linux Enterprise 8.0 64bit", "64", 3),
        ("Redhat 7.6 64bit", "64", 3),
        ("Redhat Linux Enterprise 7.6 64bit", "64", 3),
        ("Redhat Linux Enterprise 7.5 64bit", "64", 2),
        ("Redhat Linux Enterprise 7.4 64bit", "64", 3),
        ("Redhat Linux Enterprise 7.3 64bit", "64", 1),
        ("Redhat Linux Enterprise 7.2 64bit", "64", 1),
        ("Redhat Linux Enterprise 7.1 64bit", "64", 1),
        ("Redhat Linux Enterprise 7.0 64bit", "64", 1),
        ("Redhat Linux Enterprise 6.10 64bit", "64", 1),
        ("Redhat Linux Enterprise 6.9 64bit", "64", 1),
        ("Redhat Linux Enterprise 6.8 64bit", "64", 1),
        ("Redhat Linux Enterprise 6.6 32bit", "32", 1),
        ("Redhat Linux Enterprise 6.4 32bit", "32", 1),
        ("Red Hat Linux Enterprise 9.0 64bit", "64", 2),
        ("Red Hat Linux Enterprise 8.6 64bit", "64", 2),
        ("Red Hat Linux Enterprise 8.4 64bit", "64", 2),
        ("Red Hat Linux Enterprise 8.0 64bit", "64", 2),
        ("Red Hat 7.6 64bit", "64", 3),
        ("Red Hat Linux Enterprise 7.6 64bit", "64", 2),
        ("Red Hat Linux Enterprise 7.5 64bit", "64", 2),
        ("Red Hat Linux Enterprise 7.4 64bit", "64", 2),
        ("Red Hat Linux Enterprise 7.3 64bit", "64", 1),
        ("Red Hat Linux Enterprise 7.0 64bit", "64", 1),
        ("Red Hat Linux Enterprise 6.10 64bit", "64", 1),
        ("Red Hat Linux Enterprise 6.7 64bit", "64", 1),
        ("Red Hat Linux Enterprise 6.6 32bit", "32", 1),
        ("Red Hat Linux Enterprise 6.5 64bit", "64", 1),
        ("Red Hat Linux Enterprise 6.4 64bit", "64", 1),
    ),
    ("Ubuntu", "Linux"): (
        ("Ubuntu 22.04 Server 64bit", "64", 12),
        ("Ubuntu 20.04 Server 64bit", "64", 18),
        ("Ubuntu 19.04 server 64bit", "64", 2),
        ("Ubuntu 18.04 server 64bit", "64", 40),
        ("Ubuntu 18.04.2 server 64bit", "64", 4),
        ("Ubuntu 18.04.1 server 64bit", "64", 4),
        ("Ubuntu 16.04 server 64bit", "64", 30),
        ("Ubuntu 16.04.6 server 64bit", "64", 3),
        ("Ubuntu 16.04.5 server 64bit", "64", 3),
        ("Ubuntu 16.04.4 server 64bit", "64", 3),
        ("Ubuntu 16.04.3 Server 64bit", "64", 3),
        ("Ubuntu 16.04.2 Server 64bit", "64", 2),
        ("Ubuntu 14.04 server 64bit", "64", 4),
        ("Ubuntu 14.04 server 32bit", "32", 1),
        ("Ubuntu 14.04.5 server 64bit", "64", 2),
        ("Ubuntu 14.04.4 server 64bit", "64", 1),
        ("Ubuntu 14.04.4 server 32bit", "32", 1),
        ("Ubuntu 14.04.3 server 64bit", "64", 1),
        ("Ubuntu 14.04.1 server 32bit", "32", 1),
    ),
    ("OpenSUSE", "Linux"): (
        ("openSUSE 15.2 64bit", "64", 1),
        ("openSUSE 15.1 64bit", "64", 2),
        ("openSUSE 15.0 64bit", "64", 1),
        ("openSUSE 42.3 64bit", "64", 2),
        ("openSUSE 42.2 64bit", "64", 1),
        ("openSUSE 42.1 64bit", "64", 1),
        ("openSUSE 13.2 64bit", "64", 1),
        ("openSUSE 11.3 64bit", "64", 1),
    ),
    ("CentOS", "Linux"): (
        ("CentOS 8.2 64bit", "64", 6),
        ("CentOS 8.0 64bit", "64", 6),
        ("CentOS 7.9 64bit", "64", 30),
        ("CentOS 7.8 64bit", "64", 15),
        ("CentOS 7.7 64bit", "64", 15),
        ("CentOS 7.6 64bit", "64", 40),
        ("CentOS 7.5 64bit", "64", 15),
        ("CentOS 7.4 64bit", "64", 20),
        ("CentOS 7.3 64bit", "64", 15),
        ("CentOS 7.2 64bit", "64", 10),
        ("CentOS 7.1 64bit", "64", 5),
        ("CentOS 7.0 64bit", "64", 4),
        ("CentOS 7.0 32bit", "32", 1),
        ("CentOS 6.10 64bit", "64", 4),
        ("CentOS 6.10 32bit", "32", 1),
        ("CentOS 6.9 64bit", "64", 4),
        ("CentOS 6.9 32bit", "32", 1),
        ("CentOS 6.8 64bit", "64", 3),
        ("CentOS 6.7 64bit", "64", 2),
        ("CentOS 6.5 64bit", "64", 2),
        ("CentOS 6.5 32bit", "32", 1),
        ("CentOS 6.3 32bit", "32", 1),
        ("CentOS 4.4 32bit", "32", 1),
    ),
    ("Debian", "Linux"): (
        ("Debian GNU/Linux 11.0.0 64bit", "64", 3),
        ("Debian GNU/Linux 10.0.0 64bit", "64", 4),
        ("Debian GNU/Linux 10.2.0 64bit", "64", 1),
        ("Debian GNU/Linux 9.3.0 64bit", "64", 3),
        ("Debian GNU/Linux 9.0.0 64bit", "64", 3),
        ("Debian GNU/Linux 8.10.0 64bit", "64", 1),
        ("Debian GNU/Linux 8.8.0 64bit", "64", 2),
        ("Debian GNU/Linux 8.6.0 64bit", "64", 1),
        ("Debian GNU/Linux 8.2.0 64bit", "64", 1),
    ),
    ("Fedora", "Linux"): (
        ("Fedora 30 64bit", "64", 1),
        ("Fedora 29 64bit", "64", 1),
        ("Fedora 28 64bit", "64", 1),
        ("Fedora 27 64bit", "64", 1),
        ("Fedora 26 64bit", "64", 1),
        ("Fedora 25 64bit", "64", 1),
        ("Fedora 22 64bit", "64", 1),
    ),
    ("EulerOS", "Linux"): (
        ("EulerOS 2.10 64bit", "64", 10),
        ("EulerOS 2.9 64bit", "64", 18),
        ("EulerOS 2.8 64bit", "64", 12),
        ("EulerOS 2.5 64bit", "64", 20),
        ("EulerOS 2.3 64bit", "64", 10),
        ("EulerOS 2.2 64bit", "64", 12),
        ("EulerOS 2.1 64bit", "64", 5),
        ("EulerOS 2.0 SP3 64bit", "64", 1),
    ),
    ("CoreOS", "Linux"): (
        ("CoreOS 1298.6.0", "64", 1),
        ("CoreOS 1068.10.0", "64", 1),
        ("CoreOS 1010.5.0", "64", 1),
    ),
    # openEuler has no __platform value of its own; "Other" is the unconfirmed best guess.
    ("Other", "Linux"): (
        ("openEuler 20.03 64bit", "64", 4),
        ("openEuler 22.03 64bit", "64", 2),
        ("Other Linux(64 bit)", "64", 5),
        ("Other(32 bit)", "32", 1),
    ),
}

#: Every entry, grouped by platform, in a stable order.
OS_CATALOG: tuple[OsEntry, ...] = tuple(
    OsEntry(version, platform, os_type, bit, weight)
    for (platform, os_type), rows in _TABLE.items()
    for version, bit, weight in rows
)
