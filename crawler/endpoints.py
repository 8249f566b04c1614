"""Where each image is fetched: endpoint options, templates and the Keystone catalog (pure).

A service (``compute`` for the Nova proxy, ``image`` for Glance v2) is reached at a root URL
chosen per region, first match wins:

1. an explicit ``REGION=URL`` option value for that region;
2. the default option value, where ``{region}`` is replaced by the line's region
   (``https://ims.{region}.myhuaweicloud.com``);
3. the Keystone catalog of the project's token: the service type's endpoint for that region
   and interface.

Roots are kept without the version suffix: the client adds ``/v2.1/{project}`` or ``/v2``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from yarl import URL

from crawler.errors import ConfigError

Api = Literal["nova", "glance"]
ApiChoice = Literal["nova", "glance", "auto"]
API_CHOICES: Final = ("auto", "nova", "glance")
ServiceType = Literal["compute", "image"]

REGION_PLACEHOLDER: Final = "{region}"
_REGION_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# A catalog URL may carry the version and project: .../v2.1/{project_id}, .../v2/, .../v2.1
_VERSION_TAIL: Final = re.compile(r"/v2(?:\.\d+)?(?:/.*)?$")


def normalize_root(value: str, option: str) -> str:
    """Return ``scheme://host[:port][/prefix]`` without a ``/v2``/``/v2.1[/...]`` tail.

    A ``{region}`` placeholder is allowed anywhere (it is checked as if it were a region).

    Raises:
        ConfigError: not an absolute http(s) URL, or it carries a query or fragment.
    """
    text = value.strip()
    unknown = set(re.findall(r"\{[^}]*\}", text)) - {REGION_PLACEHOLDER}
    if unknown:
        raise ConfigError(
            f"{option} {value!r}: unknown placeholder {sorted(unknown)[0]}; only {{region}}"
        )
    url = URL(text.replace(REGION_PLACEHOLDER, "region"))
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(
            f"{option} {value!r}: expected an http(s) URL such as https://ecs.eu-de.otc.t-systems.com"
        )
    if url.query_string or url.fragment:
        raise ConfigError(f"{option} {value!r}: must not carry a query or fragment")
    return _VERSION_TAIL.sub("", text.rstrip("/")).rstrip("/")


@dataclass(frozen=True, slots=True)
class ServiceEndpoints:
    """One service's configured roots: a default (maybe a template) and per-region ones."""

    default: str | None = None
    regions: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, values: Iterable[str], option: str) -> ServiceEndpoints:
        """Read repeated option values: ``URL`` (at most one) or ``REGION=URL``.

        Raises:
            ConfigError: a bad URL or region, two defaults, or a region given twice.
        """
        default: str | None = None
        regions: dict[str, str] = {}
        for value in values:
            region, equals, url = value.partition("=")
            if equals and "://" not in region:
                region = region.strip()
                if not _REGION_RE.fullmatch(region):
                    raise ConfigError(f"{option} {value!r}: {region!r} is not a region name")
                if region in regions:
                    raise ConfigError(f"{option}: region {region!r} is given twice")
                regions[region] = normalize_root(url, option)
            elif default is not None:
                raise ConfigError(
                    f"{option} {value!r}: only one URL without a region; write REGION=URL"
                )
            else:
                default = normalize_root(value, option)
        return cls(default, tuple(sorted(regions.items())))

    @property
    def configured(self) -> bool:
        return self.default is not None or bool(self.regions)

    def root_for(self, region: str | None) -> str | None:
        """The root for ``region`` from the options alone; None when they do not say."""
        for name, url in self.regions:
            if name == region:
                return url
        if self.default is None:
            return None
        if REGION_PLACEHOLDER in self.default:
            return None if region is None else self.default.replace(REGION_PLACEHOLDER, region)
        return self.default

    def text(self) -> str:
        """One canonical string (manifest, resume identity): ``URL REGION=URL ...``."""
        parts = [] if self.default is None else [self.default]
        parts.extend(f"{name}={url}" for name, url in self.regions)
        return " ".join(parts)


def catalog_root(
    catalog: Sequence[Mapping[str, object]] | None,
    service: ServiceType,
    region: str | None,
    interface: str,
) -> str | None:
    """The service's root in a Keystone v3 catalog for ``region`` and ``interface``.

    With no region asked for, a catalog that has the service in exactly one region answers;
    with several it does not (which one would be a guess).
    """
    found: dict[str, str] = {}
    for entry in catalog or ():
        endpoints = entry.get("endpoints")
        if entry.get("type") != service or not isinstance(endpoints, list):
            continue
        for endpoint in endpoints:
            if not isinstance(endpoint, Mapping) or endpoint.get("interface") != interface:
                continue
            url = endpoint.get("url")
            name = endpoint.get("region_id") or endpoint.get("region")
            if isinstance(url, str) and isinstance(name, str):
                found.setdefault(name, url)
    if region is not None:
        url = found.get(region)
    else:
        url = next(iter(found.values())) if len(found) == 1 else None
    return None if url is None else normalize_root(url, f"catalog {service} endpoint")


@dataclass(frozen=True, slots=True)
class Route:
    """Where one (project, region) is served: a compute root, an image root, or both."""

    compute: str | None
    image: str | None

    def apis(self, choice: ApiChoice) -> tuple[Api, ...]:
        """The APIs ``choice`` may use here, in the order they are tried."""
        if choice == "nova":
            return ("nova",) if self.compute else ()
        if choice == "glance":
            return ("glance",) if self.image else ()
        both: tuple[tuple[Api, str | None], ...] = (("nova", self.compute), ("glance", self.image))
        return tuple(api for api, root in both if root)


def missing_endpoint_message(
    service: ServiceType, region: str | None, option: str, catalog_tried: bool
) -> str:
    """Why no root was found, with what would fix it."""
    where = f"region {region!r}" if region else "lines without a region"
    fixes = [f"{option} URL", f"{option} {region or 'REGION'}=URL"]
    if region is None:
        fixes.append("--region NAME")
    text = f"no {service} endpoint for {where}: pass {' or '.join(fixes)}"
    if catalog_tried:
        text += f" (the Keystone catalog has no {service} endpoint there)"
    return text
