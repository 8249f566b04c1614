"""Run settings as frozen values, validated on construction.

The environment is read only by ``token_from_env`` (called from the CLI); everything below
the CLI receives these values explicitly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from yarl import URL

from crawler.errors import ConfigError
from crawler.inputs import InputFormat

OUTPUT_FORMATS: Final = ("parquet", "csv")
TOKEN_ENV: Final = "OS_AUTH_TOKEN"


def normalize_endpoint(value: str) -> str:
    """Return the compute endpoint root: scheme://host[:port][/prefix] without ``/v2.1``.

    Raises:
        ConfigError: the value is not an absolute http(s) URL.
    """
    url = URL(value.strip())
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(
            f"--endpoint {value!r}: expected an http(s) URL such as https://ecs.eu-de.otc.t-systems.com"
        )
    if url.query_string or url.fragment:
        raise ConfigError(f"--endpoint {value!r}: must not carry a query or fragment")
    path = url.path.rstrip("/")
    for suffix in ("/v2.1", "/v2"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return str(url.with_path(path or "/")).rstrip("/")


def parse_formats(value: str) -> tuple[str, ...]:
    """Parse ``--format parquet,csv`` into a tuple in canonical order."""
    wanted = {part.strip().lower() for part in value.split(",") if part.strip()}
    unknown = wanted - set(OUTPUT_FORMATS)
    if unknown or not wanted:
        raise ConfigError(f"--format {value!r}: choose one or more of {', '.join(OUTPUT_FORMATS)}")
    return tuple(fmt for fmt in OUTPUT_FORMATS if fmt in wanted)


def token_from_env() -> str | None:
    """The static token from ``OS_AUTH_TOKEN``, if set and not blank."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    return token or None


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    """Everything one crawl needs. ``auth_token`` never appears in repr or manifest."""

    endpoint: str
    input_path: str
    output_dir: Path = Path("output")
    input_format: InputFormat = "auto"
    concurrency: int = 32
    formats: tuple[str, ...] = OUTPUT_FORMATS
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    batch_rows: int = 5000
    auth_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoint", normalize_endpoint(self.endpoint))
        if not 1 <= self.concurrency <= 4096:
            raise ConfigError(f"--concurrency {self.concurrency}: expected 1..4096")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ConfigError("timeouts must be positive")
        if self.batch_rows < 1:
            raise ConfigError("batch_rows must be positive")
        if not self.formats or set(self.formats) - set(OUTPUT_FORMATS):
            raise ConfigError(f"formats {self.formats!r}: choose from {OUTPUT_FORMATS}")

    def public(self) -> dict[str, object]:
        """The effective settings for the manifest, with secrets reduced to their presence."""
        return {
            "endpoint": self.endpoint,
            "api": "nova-proxy",
            "nova_api_version": "2.1",
            "input_format": self.input_format,
            "output_dir": str(self.output_dir),
            "concurrency": self.concurrency,
            "formats": list(self.formats),
            "connect_timeout_s": self.connect_timeout,
            "read_timeout_s": self.read_timeout,
            "batch_rows": self.batch_rows,
            "auth": "token" if self.auth_token else "none",
        }
