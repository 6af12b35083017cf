"""PostgreSQL sink (psycopg 3): multi-row INSERT, executemany or COPY; commit = acknowledgement.

Autocommit is off and each batch is committed on its own, so an acknowledged batch is durable
(as durable as the server's synchronous_commit makes it). Errors are classified into
:class:`ErrorKind` and counted; after a connection loss the next batch reconnects.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from benchlab import fields
from benchlab.fields import ConfigError
from benchlab.records import COLUMNS, Row
from benchlab.runparams import PG_DEFAULT_METHOD, PG_METHODS
from benchlab.sinks.base import Ack, Batch, ErrorKind, SinkUnreachable, SyncSink

MAX_PARAMS = 65535  # PostgreSQL's bind-parameter limit per statement
IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")


@dataclass(frozen=True)
class PostgresSinkConfig:
    """Where and how the PostgreSQL sink writes (a run config's ``sink`` object)."""

    host: str
    password_file: str
    method: str = PG_DEFAULT_METHOD
    port: int = 5432
    dbname: str = "benchlab"
    user: str = "benchlab"
    table: str = "events"
    connect_timeout_s: float = 5.0
    statement_timeout_ms: int = 10000
    retries: int = 0

    @classmethod
    def parse(cls, data: dict[str, Any], prefix: str) -> PostgresSinkConfig:
        if "password" in data:
            raise ConfigError(
                f"{prefix}.password",
                "passwords are never put in the run configuration",
                "write it to a 0600 file and set password_file",
            )
        fields.refuse_unknown(data, prefix, cls)
        table = fields.string(data, prefix, "table", cls.table)
        if not IDENT_RE.match(table):
            raise ConfigError(
                f"{prefix}.table",
                f"'{table}' is not a plain table name",
                "use e.g. events or public.events",
            )
        number = fields.number
        return cls(
            host=fields.string(data, prefix, "host"),
            password_file=fields.string(data, prefix, "password_file"),
            method=fields.choice(data, prefix, "method", PG_METHODS, PG_DEFAULT_METHOD),
            port=fields.port(data, prefix, default=cls.port),
            dbname=fields.string(data, prefix, "dbname", cls.dbname),
            user=fields.string(data, prefix, "user", cls.user),
            table=table,
            connect_timeout_s=number(
                data, prefix, "connect_timeout_s", minimum=0, exclusive_min=True, default=5.0
            ),
            statement_timeout_ms=number(
                data, prefix, "statement_timeout_ms", integer=True, minimum=0, default=10000
            ),
            retries=number(data, prefix, "retries", integer=True, minimum=0, maximum=10, default=0),
        )

    def read_password(self) -> str | None:
        """The password from password_file; ConfigError naming the field when unreadable."""
        return fields.read_secret(self.password_file, "sink.password_file")


def classify(exc: BaseException) -> ErrorKind:
    """Map a psycopg exception to an error kind."""
    if isinstance(exc, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable):
        return ErrorKind.TIMEOUT  # statement_timeout / lock_timeout
    if isinstance(exc, psycopg.errors.ConnectionTimeout):
        return ErrorKind.TIMEOUT
    if isinstance(exc, psycopg.errors.IdleInTransactionSessionTimeout):
        return ErrorKind.TIMEOUT
    if isinstance(exc, psycopg.errors.IntegrityError):
        return ErrorKind.CONSTRAINT
    # SQLSTATE class 53 (disk full, out of memory, too many connections): before the
    # connection errors, whose class (OperationalError) psycopg gives them
    if isinstance(exc, psycopg.Error) and (exc.sqlstate or "").startswith("53"):
        return ErrorKind.RESOURCE
    if isinstance(
        exc,
        psycopg.OperationalError
        | psycopg.errors.AdminShutdown
        | psycopg.errors.CannotConnectNow
        | psycopg.InterfaceError
        | OSError,
    ):
        text = str(exc).lower()
        if "timeout expired" in text or "timed out" in text:
            return ErrorKind.TIMEOUT
        return ErrorKind.CONNECTION
    return ErrorKind.OTHER


def _ts_text(t: datetime) -> str:
    return t.isoformat(sep=" ")


def copy_text(rows: Sequence[Row]) -> bytes:
    """Rows in COPY text format. Generated fields never hold tab, newline or backslash."""
    return "".join(
        f"{r[0]}\t{r[1]}\t{_ts_text(r[2])}\t{r[3]}\t{r[4]}\t{r[5]}\t{r[6]}\t{r[7]!r}\t{r[8]}\n"
        for r in rows
    ).encode()


class PostgresSink(SyncSink):
    kind = "postgresql"

    def __init__(self, config: PostgresSinkConfig, *, name: str = "postgresql") -> None:
        super().__init__(config, name=name)
        self.method = config.method
        self.conn: psycopg.Connection[Any] | None = None
        self.reconnects = 0
        self._password: str | None = None
        table = sql.SQL(".").join(sql.Identifier(p) for p in config.table.split("."))
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS)
        self._copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(table, cols)
        self._insert_head = sql.SQL("INSERT INTO {} ({}) VALUES ").format(table, cols)
        one = sql.SQL("({})").format(sql.SQL(", ").join(sql.Placeholder() * len(COLUMNS)))
        self._one_row = one
        self._executemany_sql = self._insert_head + one
        self._insert_cache: dict[int, str] = {}

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "method": self.method}

    # -- connection -------------------------------------------------------------------------
    def connect_kwargs(self) -> dict[str, Any]:
        c = self.config
        if self._password is None:
            self._password = c.read_password()
        return {
            "host": c.host,
            "port": c.port,
            "dbname": c.dbname,
            "user": c.user,
            "password": self._password,
            "connect_timeout": max(1, round(c.connect_timeout_s)),
            "application_name": f"benchlab-{self.name}",
            "options": f"-c statement_timeout={c.statement_timeout_ms}",
            "autocommit": False,
            # a vanished server must not hang a worker: TCP keepalives and a send time-out
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
            "tcp_user_timeout": c.statement_timeout_ms + 10_000 if c.statement_timeout_ms else 0,
        }

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(**self.connect_kwargs())

    def open(self) -> None:
        try:
            self.conn = self._connect()
        except psycopg.Error as exc:
            c = self.config
            raise SinkUnreachable(
                f"PostgreSQL at {c.host}:{c.port} db {c.dbname} user {c.user}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
            ) from exc

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None

    # -- writing ----------------------------------------------------------------------------
    def prepare(self, rows: Sequence[Row]) -> Any:
        if self.method == "copy":
            return copy_text(rows)
        return None

    def _insert_sql(self, conn: psycopg.Connection[Any], n: int) -> str:
        """Multi-row INSERT text for n rows, composed once per size and cached."""
        stmt = self._insert_cache.get(n)
        if stmt is None:
            composed = self._insert_head + sql.SQL(", ").join([self._one_row] * n)
            stmt = composed.as_string(conn)
            if len(self._insert_cache) > 4:
                self._insert_cache.clear()
            self._insert_cache[n] = stmt
        return stmt

    def _write(self, conn: psycopg.Connection[Any], batch: Batch) -> None:
        with conn.cursor() as cur:
            if self.method == "copy":
                data = batch.payload if batch.payload is not None else copy_text(batch.rows)
                with cur.copy(self._copy_sql) as copy:
                    copy.write(data)
            elif self.method == "executemany":
                cur.executemany(self._executemany_sql, batch.rows)
            else:
                per_stmt = MAX_PARAMS // len(COLUMNS)
                rows = batch.rows
                for start in range(0, len(rows), per_stmt):
                    chunk = rows[start : start + per_stmt]
                    params = [v for row in chunk for v in row]
                    cur.execute(self._insert_sql(conn, len(chunk)), params)  # type: ignore[arg-type]
        conn.commit()

    def _drop_connection(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def write_batch(self, batch: Batch) -> Ack:
        attempts = 0
        while True:
            attempts += 1
            try:
                if self.conn is None or self.conn.closed or self.conn.broken:
                    self._drop_connection()
                    self.conn = self._connect()
                    self.reconnects += 1
                self._write(self.conn, batch)
                return Ack(
                    batch.index,
                    batch.first_seq,
                    batch.count,
                    True,
                    time.monotonic(),
                    attempts=attempts,
                )
            except (psycopg.Error, OSError) as exc:
                kind = classify(exc)
                if kind == ErrorKind.CONNECTION or (self.conn is not None and self.conn.broken):
                    self._drop_connection()
                else:
                    try:
                        if self.conn is not None:
                            self.conn.rollback()
                    except psycopg.Error:
                        self._drop_connection()
                retryable = kind in (ErrorKind.CONNECTION, ErrorKind.TIMEOUT)
                if retryable and attempts <= self.config.retries:
                    continue
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                return Ack(
                    batch.index,
                    batch.first_seq,
                    batch.count,
                    False,
                    time.monotonic(),
                    kind,
                    f"{type(exc).__name__}: {message}"[:300],
                    attempts,
                )
