"""Run settings as frozen values, validated on construction.

Credentials are not settings: the CLI reads them from the environment once, through
``crawler.auth.auth_from_env``, and everything below receives values explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from crawler.endpoints import API_CHOICES, ApiChoice, ServiceEndpoints
from crawler.errors import ConfigError
from crawler.inputs import InputFormat, Shard

OUTPUT_FORMATS: Final = ("parquet", "csv")


def _values(value: str | tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    return tuple(v for v in value if v.strip())


def parse_formats(value: str) -> tuple[str, ...]:
    """Parse ``--format parquet,csv`` into a tuple in canonical order."""
    wanted = {part.strip().lower() for part in value.split(",") if part.strip()}
    unknown = wanted - set(OUTPUT_FORMATS)
    if unknown or not wanted:
        raise ConfigError(f"--format {value!r}: choose one or more of {', '.join(OUTPUT_FORMATS)}")
    return tuple(fmt for fmt in OUTPUT_FORMATS if fmt in wanted)


def parse_shard(value: str) -> Shard:
    """Parse ``--shard K/N``: shard K (0-based) of N."""
    index, slash, count = value.strip().partition("/")
    try:
        shard = Shard(int(index), int(count))
    except ValueError:
        shard = None
    if not slash or shard is None or not 0 <= shard.index < shard.count <= 65536:
        raise ConfigError(
            f"--shard {value!r}: expected K/N with 0 <= K < N, e.g. 0/4 for the first of four"
        )
    return shard


if TYPE_CHECKING:
    from crawler.discover.snapshot import DiscoverySettings

RESUME_LATEST: Final = "latest"
RESUME_AUTO: Final = "auto"


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    """Everything one crawl needs except credentials (those stay in the auth provider)."""

    # Compute (Nova proxy) roots: one URL or template, and/or REGION=URL values ("": none).
    endpoint: str | tuple[str, ...]
    input_path: str
    output_dir: Path = Path("output")
    input_format: InputFormat = "auto"
    concurrency: int = 32
    formats: tuple[str, ...] = OUTPUT_FORMATS
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    batch_rows: int = 5000
    rate: float | None = None
    rate_per_project: float | None = None
    max_attempts: int = 6
    max_item_seconds: float = 300.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_failure_ratio: float = 0.0
    verify_tls: bool = True
    shard: Shard | None = None
    resume: str | None = None  # a run id, "latest" or "auto"
    grace_s: float = 10.0
    flush_interval_s: float = 2.0
    batch_bytes: int = 8 << 20
    lifecycle_path: Path | None = None  # a CSV of EOL dates over the packaged table
    image_endpoint: str | tuple[str, ...] = ()  # Glance v2 roots, same forms as ``endpoint``
    api: ApiChoice = "auto"
    region: str | None = None  # for input lines without one
    discovery: DiscoverySettings | None = None  # list projects (input_path) instead of IDs
    compute: ServiceEndpoints = field(init=False)
    image: ServiceEndpoints = field(init=False)

    def __post_init__(self) -> None:
        compute = ServiceEndpoints.parse(_values(self.endpoint), "--endpoint")
        image = ServiceEndpoints.parse(_values(self.image_endpoint), "--image-endpoint")
        object.__setattr__(self, "compute", compute)
        object.__setattr__(self, "image", image)
        object.__setattr__(self, "endpoint", compute.text())
        object.__setattr__(self, "image_endpoint", image.text())
        if self.api not in API_CHOICES:
            raise ConfigError(f"--api {self.api!r}: choose one of {', '.join(API_CHOICES)}")
        if not 1 <= self.concurrency <= 4096:
            raise ConfigError(f"--concurrency {self.concurrency}: expected 1..4096")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ConfigError("timeouts must be positive")
        if self.batch_rows < 1:
            raise ConfigError("batch_rows must be positive")
        for name in ("rate", "rate_per_project"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} {value}: must be positive")
        if not 0.0 <= self.max_failure_ratio <= 1.0:
            raise ConfigError(f"--max-failure-ratio {self.max_failure_ratio}: expected 0..1")
        if self.grace_s < 0 or self.flush_interval_s <= 0 or self.batch_bytes < 1:
            raise ConfigError("grace, flush interval and batch bytes must be positive")
        if not self.formats or set(self.formats) - set(OUTPUT_FORMATS):
            raise ConfigError(f"formats {self.formats!r}: choose from {OUTPUT_FORMATS}")

    def public(self) -> dict[str, object]:
        """The effective settings for the manifest (this class holds no secrets)."""
        return {
            "endpoint": self.endpoint,
            "image_endpoint": self.image_endpoint,
            "api": self.api,
            "region": self.region,
            "discovery": None if self.discovery is None else self.discovery.describe(),
            "nova_api_version": "2.1",
            "input_format": self.input_format,
            "output_dir": str(self.output_dir),
            "concurrency": self.concurrency,
            "formats": list(self.formats),
            "connect_timeout_s": self.connect_timeout,
            "read_timeout_s": self.read_timeout,
            "batch_rows": self.batch_rows,
            "rate": self.rate,
            "rate_per_project": self.rate_per_project,
            "max_attempts": self.max_attempts,
            "max_item_seconds": self.max_item_seconds,
            "backoff_base_s": self.backoff_base_s,
            "backoff_max_s": self.backoff_max_s,
            "max_failure_ratio": self.max_failure_ratio,
            "verify_tls": self.verify_tls,
            "shard": None if self.shard is None else str(self.shard),
            "grace_s": self.grace_s,
            "flush_interval_s": self.flush_interval_s,
            "batch_bytes": self.batch_bytes,
            "lifecycle": None if self.lifecycle_path is None else str(self.lifecycle_path),
        }
