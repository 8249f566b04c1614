"""The commit protocol of an upload: every data file first, each checked, ``manifest.json`` last.

Object stores cannot rename, so the order of the uploads is the commit: a file is checked by
size after its upload (and its bytes against the manifest's SHA-256 while they are read), and
a run without ``manifest.json`` is absent to readers. An interrupted upload never leaves one;
uploading again overwrites the data files and ends with the manifest.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow.fs as pafs

from crawler.errors import ConfigError, SnapshotError
from crawler.objectstore.location import S3Location, S3Settings, default_staging_root, is_s3_url
from crawler.objectstore.remote import load_manifest
from crawler.snapshot import MANIFEST, RUN_STATE

_NOT_UPLOADED: Final = frozenset({MANIFEST, RUN_STATE, "lock"})  # bookkeeping a crash may leave
_CHUNK: Final = 8 << 20
_CONTENT_TYPES: Final = {
    ".parquet": "application/vnd.apache.parquet",
    ".csv": "text/csv",
    ".json": "application/json",
}


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
        manifest = load_manifest((run_dir / MANIFEST).read_bytes(), run_dir)
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
