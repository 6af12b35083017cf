"""The PostgreSQL sink's error kinds: what the fault matrix's "errors by kind" column shows."""

from __future__ import annotations

import psycopg
import pytest

from benchlab.sinks.base import ErrorKind
from benchlab.sinks.postgres import classify


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        # SQLSTATE class 53: psycopg makes them OperationalErrors, yet the server is up
        (psycopg.errors.DiskFull("could not extend file: No space left on device"), "resource"),
        (psycopg.errors.TooManyConnections("too many clients already"), "resource"),
        (psycopg.OperationalError("connection refused"), "connection"),
        (psycopg.errors.AdminShutdown("terminating connection"), "connection"),
        (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), "timeout"),
        (psycopg.errors.UniqueViolation("duplicate key"), "constraint"),
        (ValueError("bug"), "other"),
    ],
)
def test_each_failure_has_its_kind(exc: BaseException, kind: str) -> None:
    assert classify(exc) == ErrorKind(kind)
