"""Snapshots in S3-compatible object storage (AWS S3, Huawei OBS, OTC OBS) via ``pyarrow.fs``.

The remote layout is the local one: ``PREFIX/snapshot_date=D/run_id=ID/`` holding the tables
and ``manifest.json``. A crawl always runs into a local staging root (journal, lock and resume
stay local); ``upload_run`` then copies the committed directory. Object stores cannot rename,
so the commit is the order of the uploads: every data file first, each checked by size after
its upload (and its bytes against the manifest's SHA-256 while they are read), ``manifest.json``
last. A run without ``manifest.json`` is absent to ``list_runs`` and ``read_table``; an
interrupted upload never leaves one, and uploading again overwrites the data files and ends
with the manifest. Credentials and the endpoint come from the usual ``AWS_*`` variables.

Modules: ``location`` (``s3://`` URLs and connection settings from the environment),
``upload`` (``Destination`` and the commit protocol), ``remote`` (listing and reading runs).
"""

from crawler.objectstore.location import (
    ADDRESSING_ENVVAR,
    SCHEME,
    S3Location,
    S3Settings,
    default_staging_root,
    filesystem_from_env,
    is_s3_url,
)
from crawler.objectstore.remote import RemoteRun, latest_run, list_runs, read_table
from crawler.objectstore.upload import Destination, upload_files, upload_run

__all__ = [
    "ADDRESSING_ENVVAR",
    "SCHEME",
    "Destination",
    "RemoteRun",
    "S3Location",
    "S3Settings",
    "default_staging_root",
    "filesystem_from_env",
    "is_s3_url",
    "latest_run",
    "list_runs",
    "read_table",
    "upload_files",
    "upload_run",
]
