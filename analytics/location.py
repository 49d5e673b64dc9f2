"""Where the archive and the rollups live: a local directory or an S3 bucket/prefix (local endpoint or AWS).

The endpoint is the caller's to find (the CLI asks ``cli.target`` for the running local stack's): the analytics
never look for a local stack themselves.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow.fs as pafs

from analytics.named_queries import QueryError
from analytics.settings import load_analytics_settings


class ArchiveError(QueryError):
    """The archive cannot be found or read (one line for the user)."""


@dataclass(frozen=True)
class S3Access:
    endpoint_url: str | None
    region: str
    key_id: str
    secret: str
    session_token: str | None
    ca_bundle: str | None = None  # AWS_CA_BUNDLE: an endpoint with its own certificate (an emulator's TLS)

    @classmethod
    def from_environment(cls, endpoint_url: str | None) -> S3Access:
        import boto3

        session = boto3.Session()
        credentials = session.get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials else None
        local = endpoint_url is not None
        return cls(
            endpoint_url=endpoint_url,
            region=session.region_name or load_analytics_settings().region,
            key_id=frozen.access_key if frozen else ("testing" if local else ""),
            secret=frozen.secret_key if frozen else ("testing" if local else ""),
            session_token=frozen.token if frozen else None,
            ca_bundle=os.environ.get("AWS_CA_BUNDLE") or None,
        )

    @property
    def endpoint_host(self) -> str | None:
        return urlparse(self.endpoint_url).netloc if self.endpoint_url else None

    @property
    def use_ssl(self) -> bool:
        return not self.endpoint_url or urlparse(self.endpoint_url).scheme == "https"


@dataclass(frozen=True)
class ArchiveLocation:
    """``quotes_root`` holds ``symbol=*/market=*/dt=*/*.parquet``; ``rollups_root`` holds the rollup tables."""

    quotes_root: str  # absolute local path or s3://bucket/prefix (no trailing slash)
    rollups_root: str
    s3: S3Access | None = None

    @property
    def is_s3(self) -> bool:
        return self.s3 is not None

    @property
    def quotes_glob(self) -> str:
        # Firehose names objects without an extension unless told; names starting with _ or . are hidden (Hive).
        return f"{self.quotes_root}/symbol=*/market=*/dt=*/[!_.]*"

    @cached_property
    def filesystem(self) -> pafs.FileSystem:
        if self.s3 is None:
            return pafs.LocalFileSystem()
        return pafs.S3FileSystem(
            access_key=self.s3.key_id or None,
            secret_key=self.s3.secret or None,
            session_token=self.s3.session_token,
            region=self.s3.region,
            endpoint_override=self.s3.endpoint_host,
            scheme="https" if self.s3.use_ssl else "http",
            tls_ca_file_path=self.s3.ca_bundle or "",
        )

    def fs_path(self, uri: str) -> str:
        """A location URI as a path for ``filesystem`` (S3: ``bucket/key``)."""
        return uri.removeprefix("s3://")

    def uri(self, fs_path: str) -> str:
        return f"s3://{fs_path}" if self.is_s3 else fs_path


S3_DELETE_BATCH = 1000  # DeleteObjects' limit


def delete_objects(location: ArchiveLocation, paths: Sequence[str], s3: Any = None) -> int:
    """Delete files of the location: S3 in DeleteObjects calls of 1,000 keys (``s3``: a boto3 client, made from the
    location's access when not given), a local directory one unlink each. ArchiveError names the first refusal."""
    if not location.is_s3:
        for path in paths:
            location.filesystem.delete_file(path)
        return len(paths)
    if s3 is None:
        import boto3

        access = location.s3
        assert access is not None
        s3 = boto3.client("s3", endpoint_url=access.endpoint_url, region_name=access.region,
                          aws_access_key_id=access.key_id, aws_secret_access_key=access.secret,
                          aws_session_token=access.session_token, verify=access.ca_bundle or None)  # fmt: skip
    by_bucket: dict[str, list[str]] = {}
    for path in paths:
        bucket, _, key = path.partition("/")
        by_bucket.setdefault(bucket, []).append(key)
    for bucket, keys in by_bucket.items():
        for start in range(0, len(keys), S3_DELETE_BATCH):
            batch = keys[start : start + S3_DELETE_BATCH]
            response = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
            if response.get("Errors"):
                first = response["Errors"][0]
                raise ArchiveError(f"S3 refused {len(response['Errors'])} deletes, e.g. s3://{bucket}/{first['Key']}: "
                                   f"{first['Code']}")
    return len(paths)


def _exists(fs: pafs.FileSystem, path: str) -> bool:
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def resolve_archive(
    archive: str | None = None, endpoint: str | None = None, rollups: str | None = None
) -> ArchiveLocation:
    """Resolve ``--archive`` (a directory, ``s3://bucket[/prefix]``, or None for the stack's bucket).

    The archive may be given as the directory holding ``quotes/`` (e.g. one kept by ``demo --out``) or as the
    ``quotes`` directory itself. Rollups default to a ``rollups`` sibling of ``quotes``.
    """
    settings = load_analytics_settings()
    if archive is None or archive.startswith("s3://"):
        endpoint_url = endpoint or settings.endpoint_url
        uri = (archive or f"s3://{settings.archive_bucket}").rstrip("/")
        s3 = S3Access.from_environment(endpoint_url)
        location_fs = ArchiveLocation(uri, uri, s3).filesystem
        bucket = uri.removeprefix("s3://").split("/", 1)[0]
        try:
            if not _exists(location_fs, bucket):
                raise ArchiveError(f"archive bucket not found: s3://{bucket} (endpoint {endpoint_url or 'AWS'})")
        except OSError as exc:
            where = endpoint_url or "AWS"
            raise ArchiveError(f"cannot reach the archive at {uri} ({where}): {str(exc).splitlines()[0]}") from None
        base = uri
        path = uri.removeprefix("s3://")
        has_quotes_child = _exists(location_fs, f"{path}/quotes")
    else:
        local = Path(archive).expanduser().resolve()
        if not local.is_dir():
            raise ArchiveError(f"archive directory not found: {archive}")
        base, s3, has_quotes_child = str(local), None, (local / "quotes").is_dir()
    quotes_root = f"{base}/quotes" if has_quotes_child else base
    parent, _, leaf = quotes_root.rpartition("/")
    default_rollups = f"{parent}/rollups" if leaf == "quotes" else f"{quotes_root}/_rollups"
    if rollups is not None and rollups.startswith("s3://") != (s3 is not None):
        raise ArchiveError("--rollups must be on the same storage as the archive (both local or both S3)")
    if rollups is not None and s3 is None:
        rollups = str(Path(rollups).expanduser().resolve())
    return ArchiveLocation(quotes_root, (rollups or default_rollups).rstrip("/"), s3)


def needs_endpoint(archive: str | None) -> bool:
    """Only the stack's bucket and S3 URIs need an endpoint; a local directory does not."""
    return archive is None or archive.startswith("s3://")


def cloud_rollup_object(location: ArchiveLocation) -> str | None:
    """The first object of the AWS materialized rollups (``<rollups>/<table>/.../part-0.json``, written by the
    rollups state machine) under ``location``'s rollups root, else None. The local rollups must never write
    there: their Parquet objects would land in the JSON tables' folders and share their watermarks."""
    fs = location.filesystem
    for table in ("rollup_1h", "rollup_1d"):
        root = location.fs_path(f"{location.rollups_root}/{table}")
        try:
            infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
        except OSError:
            return None  # unreadable: run_rollups reports it in its own words
        for info in infos:
            if info.type == pafs.FileType.File and info.path.endswith("/part-0.json"):
                return location.uri(info.path)
    return None
