"""Infrastructure layer: the repositories over PostgreSQL (psycopg async pool)."""

from __future__ import annotations

import os

from psycopg_pool import AsyncConnectionPool

from fastapi_strict.domain import Post, PostRepository, User, UserRepository

_USER_COLUMNS = "id, username, email, full_name, age, created_at"


def conninfo() -> str:
    with open(os.environ["BACKEND_DB_PASSWORD_FILE"], encoding="utf-8") as f:
        password = f.read().strip()
    return (
        f"host={os.environ.get('BACKEND_DB_HOST', '127.0.0.1')} "
        f"port={os.environ.get('BACKEND_DB_PORT', '5432')} "
        f"dbname={os.environ.get('BACKEND_DB_NAME', 'benchlab_backend')} "
        f"user={os.environ.get('BACKEND_DB_USER', 'benchlab_backend')} password={password}"
    )


def make_pool() -> AsyncConnectionPool:
    size = int(os.environ.get("BACKEND_DB_POOL_SIZE", "10"))
    return AsyncConnectionPool(conninfo, min_size=size, max_size=size, open=False)


def _user(row: tuple) -> User:
    return User(*row)


class PgUserRepository(UserRepository):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def get(self, user_id: int) -> User | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = %s", (user_id,))
            row = await cur.fetchone()
        return _user(row) if row else None

    async def page_offset(self, offset: int, limit: int) -> tuple[User, ...]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users ORDER BY id LIMIT %s OFFSET %s", (limit, offset)
            )
            return tuple(_user(r) for r in await cur.fetchall())

    async def page_after(self, after: int, limit: int) -> tuple[User, ...]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE id > %s ORDER BY id LIMIT %s",
                (after, limit),
            )
            return tuple(_user(r) for r in await cur.fetchall())


class PgPostRepository(PostRepository):
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def add(self, user_id: int, title: str, body: str) -> Post:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO posts (user_id, title, body) VALUES (%s, %s, %s)"
                " RETURNING id, user_id, title, body, created_at",
                (user_id, title, body),
            )
            return Post(*await cur.fetchone())
