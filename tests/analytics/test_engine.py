"""The local engine's session: UTC, no progress bar on stdout, httpfs from the pinned package file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from analytics.engine import connect, httpfs_extension_path


def test_session_is_utc_and_quiet() -> None:
    con = connect()
    assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
    assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
    # A zoned timestamp truncates on the UTC day, as Athena's timestamps do.
    day = con.execute("SELECT date_trunc('day', TIMESTAMPTZ '2026-11-22 00:30:00+02:00')::TIMESTAMP").fetchone()[0]
    assert day.isoformat() == "2026-11-21T00:00:00"


def test_httpfs_extension_matches_the_duckdb_version() -> None:
    path = httpfs_extension_path()
    assert f"v{duckdb.__version__}" in str(path) and path.is_file()


def test_an_endpoint_with_its_own_certificate_is_trusted_as_the_aws_sdks_do(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS_CA_BUNDLE (an emulator's TLS certificate) reaches DuckDB's httpfs and pyarrow's S3 filesystem."""
    from analytics.location import S3Access

    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(bundle))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    access = S3Access.from_environment("https://127.0.0.1:4566")
    assert access.ca_bundle == str(bundle) and access.use_ssl
    con = connect(access)
    assert con.execute("SELECT current_setting('ca_cert_file')").fetchone()[0] == str(bundle)
