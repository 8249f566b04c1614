"""Snapshots in S3-compatible object storage (AWS S3, Huawei OBS, OTC OBS) via ``pyarrow.fs``.

The remote layout is the local one: ``PREFIX/snapshot_date=D/run_id=ID/`` holding the tables
and ``manifest.json``. A crawl always runs into a local staging root (journal, lock and resume
stay local); ``upload_run`` then copies the committed directory. Object stores cannot rename,
so the commit is the order of the uploads: every data file first, each checked by size after
its upload (and its bytes against the manifest's SHA-256 while they are read), ``manifest.json``
last. A run without ``manifest.json`` is absent to ``list_runs`` and ``read_table``; an
interrupted upload never leaves one, and uploading again overwrites the data files and ends
with the manifest. Credentials and the endpoint come from the usual ``AWS_*`` variables.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from yarl import URL

from crawler.errors import ConfigError, SnapshotError
from crawler.normalize.schema import ALL_SCHEMAS
from crawler.snapshot import MANIFEST, RUN_STATE

SCHEME: Final = "s3://"
ADDRESSING_ENVVAR: Final = "IMAGECRAWLER_S3_ADDRESSING_STYLE"
_BUCKET: Final = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_RUN_MANIFEST: Final = re.compile(
    rf"snapshot_date=(\d{{4}}-\d{{2}}-\d{{2}})/run_id=([^/]+)/{MANIFEST}"
)
_NOT_UPLOADED: Final = frozenset({MANIFEST, RUN_STATE, "lock"})  # bookkeeping a crash may leave
_CHUNK: Final = 8 << 20
_CONTENT_TYPES: Final = {
    ".parquet": "application/vnd.apache.parquet",
    ".csv": "text/csv",
    ".json": "application/json",
}


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


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a crawl's snapshot goes: ``local_root``, then ``remote`` if there is one."""

    local_root: Path
    remote: S3Location | None = None
    settings: S3Settings | None = None
    keep_staging: bool = False

    @classmethod
    def parse(
        cls, output: str, staging: Path | None, keep_staging: bool, environ: Mapping[str, str]
    ) -> Destination:
        """A directory, or ``s3://`` staged under ``STAGING/BUCKET/PREFIX``. Raises ConfigError."""
        if not is_s3_url(output):
            if "://" in output:
                raise ConfigError(f"--output {output!r}: the only URLs supported are s3://")
            if staging is not None or keep_staging:
                raise ConfigError("--staging and --keep-staging need an s3:// --output")
            return cls(Path(output))
        remote = S3Location.parse(output)
        root = staging if staging is not None else default_staging_root(environ)
        return cls(root / remote.path, remote, S3Settings.from_env(environ), keep_staging)

    def upload(self, run_dir: Path) -> S3Location:
        """Upload a committed run, then remove its staging copy unless ``keep_staging``."""
        if self.remote is None or self.settings is None:
            raise ValueError("a local destination has nothing to upload")
        url = upload_run(run_dir, self.remote, self.settings.filesystem())
        if not self.keep_staging:
            shutil.rmtree(run_dir, ignore_errors=True)  # published: a leftover only costs disk
        return url


def _load_manifest(data: bytes, where: object) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        raise SnapshotError(f"{where}: unreadable {MANIFEST} ({exc})") from exc
    if not isinstance(manifest, dict):
        raise SnapshotError(f"{where}: {MANIFEST} is not a JSON object")
    return manifest


def upload_run(run_dir: Path, root: S3Location, filesystem: pafs.FileSystem) -> S3Location:
    """Upload a committed run directory under ``root``; return the run's remote location.

    Idempotent: a run whose remote manifest equals the local one is left alone. Raises
    SnapshotError, leaving the local directory as it was; upload failures name the retry.
    """
    manifest, files, checksums = _committed_run(run_dir)
    target = root.child(
        f"snapshot_date={manifest['snapshot_date']}", f"run_id={manifest['run_id']}"
    )
    local = (run_dir / MANIFEST).read_bytes()
    try:
        remote = _remote_manifest(filesystem, target)
        if remote is None:
            upload_files(filesystem, files, run_dir / MANIFEST, target, checksums=checksums)
    except SnapshotError as exc:
        exc.add_note(f"the committed snapshot is kept in {run_dir.absolute()}")
        exc.add_note(f"retry with: crawler publish {run_dir.absolute()} {root}")
        raise
    if remote is not None and remote != local:
        raise SnapshotError(f"{target} already holds a different committed run")
    return target


def _committed_run(run_dir: Path) -> tuple[dict[str, Any], list[Path], dict[str, str]]:
    """A local run's manifest, the files to upload and their SHA-256 by name, all checked."""
    try:
        manifest = _load_manifest((run_dir / MANIFEST).read_bytes(), run_dir)
        names = {path.name: path for path in run_dir.iterdir() if path.is_file()}
    except OSError as exc:
        raise SnapshotError(f"{run_dir} is not a committed snapshot: {exc.strerror}") from exc
    if not all(isinstance(manifest.get(key), str) for key in ("snapshot_date", "run_id")):
        raise SnapshotError(f"{run_dir / MANIFEST}: no run_id or snapshot_date")
    listed = manifest.get("files")
    listed = listed if isinstance(listed, dict) else {}
    if missing := sorted(set(listed) - set(names)):
        raise SnapshotError(f"{run_dir}: files named by its manifest are missing: {missing}")
    files = [path for name, path in sorted(names.items()) if not _skipped(name)]
    checksums = {
        name: entry["sha256"]
        for name, entry in listed.items()
        if isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
    }
    return manifest, files, checksums


def _skipped(name: str) -> bool:
    return name.startswith(".") or name in _NOT_UPLOADED


def _remote_manifest(filesystem: pafs.FileSystem, target: S3Location) -> bytes | None:
    """The manifest already uploaded for this run, or None."""
    key = target.child(MANIFEST).path
    try:
        if filesystem.get_file_info(key).type != pafs.FileType.File:
            return None
        with filesystem.open_input_stream(key) as stream:
            remote: bytes = stream.read()
    except OSError as exc:
        raise SnapshotError(f"cannot check {target}: {exc}") from exc
    return remote


def upload_files(
    filesystem: pafs.FileSystem,
    files: Sequence[Path],
    manifest: Path,
    target: S3Location,
    *,
    checksums: Mapping[str, str],
) -> None:
    """Upload ``files`` in order, then ``manifest``; stop at the first failure (no manifest)."""
    for path in files:
        _put(filesystem, path, target.child(path.name), checksums.get(path.name))
    _put(filesystem, manifest, target.child(MANIFEST), None)


def _put(filesystem: pafs.FileSystem, source: Path, key: S3Location, sha256: str | None) -> None:
    """One file to one object, checked by SHA-256 (if known) and by the stored size."""
    digest, size = hashlib.sha256(), 0
    content_type = _CONTENT_TYPES.get(source.suffix, "application/octet-stream")
    try:
        with (
            source.open("rb") as handle,
            filesystem.open_output_stream(
                key.path, compression=None, metadata={"Content-Type": content_type}
            ) as out,
        ):
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        stored = filesystem.get_file_info(key.path).size
    except OSError as exc:
        raise SnapshotError(f"cannot upload {source.name} to {key}: {exc}") from exc
    if sha256 is not None and digest.hexdigest() != sha256:
        raise SnapshotError(f"{source} does not match the SHA-256 in its manifest")
    if stored != size:
        raise SnapshotError(f"{key} holds {stored} bytes after upload, expected {size}")


@dataclass(frozen=True, slots=True)
class RemoteRun:
    """A committed run in object storage (one with a readable ``manifest.json``)."""

    snapshot_date: date
    run_id: str
    location: S3Location
    shard: tuple[int, int] | None = None
    counts: dict[str, object] | None = field(default=None, hash=False)
    started_at: str | None = None


def list_runs(root: S3Location | str, filesystem: pafs.FileSystem) -> list[RemoteRun]:
    """Committed runs under ``root``, oldest first; runs without a readable manifest are absent."""
    root = S3Location.parse(root) if isinstance(root, str) else root
    selector = pafs.FileSelector(root.path, recursive=True, allow_not_found=True)
    try:
        keys = [info.path for info in filesystem.get_file_info(selector)]
    except OSError as exc:
        raise SnapshotError(f"cannot list {root}: {exc}") from exc
    runs = []
    for key in keys:
        match = _RUN_MANIFEST.fullmatch(key[len(root.path) :].lstrip("/"))
        if match and (run := _remote_run(filesystem, root, *match.groups())) is not None:
            runs.append(run)
    return sorted(runs, key=lambda run: (run.snapshot_date, run.run_id))


def _remote_run(
    filesystem: pafs.FileSystem, root: S3Location, day: str, run_id: str
) -> RemoteRun | None:
    location = root.child(f"snapshot_date={day}", f"run_id={run_id}")
    try:
        with filesystem.open_input_stream(location.child(MANIFEST).path) as stream:
            manifest = _load_manifest(stream.read(), location)
        snapshot_date = date.fromisoformat(day)
    except (OSError, ValueError, SnapshotError):
        return None
    shard, counts, started = (manifest.get(k) for k in ("shard", "counts", "started_at"))
    return RemoteRun(
        snapshot_date,
        run_id,
        location,
        (shard["index"], shard["count"]) if isinstance(shard, dict) else None,
        counts if isinstance(counts, dict) else None,
        started if isinstance(started, str) else None,
    )


def latest_run(
    root: S3Location | str, filesystem: pafs.FileSystem, *, include_shards: bool = False
) -> RemoteRun | None:
    """The newest committed run; shard runs count only with ``include_shards``."""
    runs = [r for r in list_runs(root, filesystem) if include_shards or r.shard is None]
    return runs[-1] if runs else None


def read_table(
    run: RemoteRun | S3Location | str,
    table: str = "images",
    *,
    filesystem: pafs.FileSystem,
    fmt: str = "parquet",
) -> pa.Table:
    """One table of a committed remote run with its declared schema (see ``crawler.read``).

    Raises ConfigError if the run has no manifest (it is absent, or still uploading).
    """
    location = run.location if isinstance(run, RemoteRun) else run
    location = S3Location.parse(location) if isinstance(location, str) else location
    schema = ALL_SCHEMAS[table]
    try:
        if filesystem.get_file_info(location.child(MANIFEST).path).type != pafs.FileType.File:
            raise ConfigError(f"{location} is not a committed snapshot (no {MANIFEST})")
        path = location.child(f"{table}.{fmt}").path
        if fmt == "parquet":
            return pq.read_table(path, schema=schema, filesystem=filesystem)
        options = pacsv.ConvertOptions(
            column_types=schema,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            include_columns=schema.names,
        )
        with filesystem.open_input_stream(path) as stream:
            return pacsv.read_csv(stream, convert_options=options).cast(schema)
    except OSError as exc:
        raise SnapshotError(f"cannot read {table}.{fmt} of {location}: {exc}") from exc
