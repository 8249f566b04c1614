"""Where snapshots go in object storage, and how to connect: pure parsing plus one constructor.

``S3Location`` parses ``s3://BUCKET[/PREFIX]``; ``S3Settings`` reads the usual ``AWS_*``
variables (and ``IMAGECRAWLER_S3_ADDRESSING_STYLE``), checks the endpoint override, and builds
a ``pyarrow.fs.S3FileSystem``. Nothing here talks to the store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pyarrow.fs as pafs
from yarl import URL

from crawler.errors import ConfigError

SCHEME: Final = "s3://"
ADDRESSING_ENVVAR: Final = "IMAGECRAWLER_S3_ADDRESSING_STYLE"
_BUCKET: Final = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def is_s3_url(value: str) -> bool:
    return value.startswith(SCHEME)


@dataclass(frozen=True, slots=True)
class S3Location:
    """``s3://bucket/prefix``; ``prefix`` has no leading or trailing slash and may be empty."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """Raises ConfigError unless ``url`` is ``s3://BUCKET[/PREFIX]`` with a valid bucket."""
        if not is_s3_url(url):
            raise ConfigError(f"{url!r} is not an s3://BUCKET/PREFIX URL")
        bucket, _, prefix = url[len(SCHEME) :].partition("/")
        parts = prefix.rstrip("/").split("/") if prefix.strip("/") else []
        if not _BUCKET.fullmatch(bucket) or any(p in ("", ".", "..") for p in parts):
            raise ConfigError(f"{url!r}: expected s3://BUCKET/PREFIX (bucket: 3-63 of a-z 0-9 . -)")
        return cls(bucket, "/".join(parts))

    @property
    def path(self) -> str:
        """The location as pyarrow's S3FileSystem names it: ``bucket/prefix``."""
        return f"{self.bucket}/{self.prefix}".rstrip("/")

    def child(self, *parts: str) -> S3Location:
        return S3Location(self.bucket, "/".join(p for p in (self.prefix, *parts) if p))

    def __str__(self) -> str:
        return SCHEME + self.path


@dataclass(frozen=True, slots=True)
class S3Settings:
    """Connection settings from the environment; secrets never appear in ``repr``."""

    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    region: str | None = None
    endpoint_override: str | None = None  # host[:port]
    scheme: str = "https"
    virtual_addressing: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> S3Settings:
        """Read the AWS_* variables (and ``IMAGECRAWLER_S3_ADDRESSING_STYLE``).

        Without AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, pyarrow's AWS SDK looks further
        (``~/.aws/credentials``, instance metadata). Raises ConfigError for unusable values.
        """
        access, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
        if bool(access) != bool(secret):
            raise ConfigError("set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither")
        style = environ.get(ADDRESSING_ENVVAR) or "path"
        if style not in ("path", "virtual"):
            raise ConfigError(f"{ADDRESSING_ENVVAR}={style!r}: expected path or virtual")
        name = "AWS_ENDPOINT_URL_S3" if environ.get("AWS_ENDPOINT_URL_S3") else "AWS_ENDPOINT_URL"
        scheme, endpoint = _endpoint(name, environ.get(name) or "")
        return cls(
            access_key=access or None,
            secret_key=secret or None,
            session_token=environ.get("AWS_SESSION_TOKEN") or None,
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None,
            endpoint_override=endpoint,
            scheme=scheme,
            virtual_addressing=style == "virtual",
        )

    def filesystem(self) -> pafs.S3FileSystem:
        return pafs.S3FileSystem(
            access_key=self.access_key,
            secret_key=self.secret_key,
            session_token=self.session_token,
            region=self.region,
            endpoint_override=self.endpoint_override,
            scheme=self.scheme,
            force_virtual_addressing=self.virtual_addressing,
        )


def _endpoint(name: str, value: str) -> tuple[str, str | None]:
    """(scheme, ``host[:port]``) of an endpoint URL; ("https", None) when unset."""
    if not value:
        return "https", None
    try:
        url = URL(value.strip())
        port = url.explicit_port
    except ValueError:
        url, port = URL(), None
    if url.user or url.password:
        raise ConfigError(f"{name} must not carry credentials; use AWS_ACCESS_KEY_ID etc.")
    if (
        url.scheme not in ("http", "https")
        or not url.host
        or url.path not in ("", "/")
        or url.query_string
    ):
        raise ConfigError(f"{name}={value!r}: expected http(s)://HOST[:PORT] and no path")
    host = f"[{url.host}]" if ":" in url.host else url.host
    return url.scheme, host if port is None else f"{host}:{port}"


def filesystem_from_env(environ: Mapping[str, str]) -> pafs.S3FileSystem:
    """An S3FileSystem configured from the AWS_* variables in ``environ``."""
    return S3Settings.from_env(environ).filesystem()


def default_staging_root(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/imagecrawler/staging``, else ``~/.cache/imagecrawler/staging``.

    Not the temp dir: a tmpfs or a tmp cleaner would lose an interrupted run's journal.
    """
    cache = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "imagecrawler" / "staging"
