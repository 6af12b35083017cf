"""FastAPI, pragmatic style: routes talk SQL through one async psycopg pool, return dicts.

Endpoints shared by every backend of the suite (backends/README.md):
  GET  /health                    lightweight
  POST /json                      JSON payload: validate an order, return its total
  GET  /users/{id}                db-read by primary key
  POST /posts                     db-write: one INSERT ... RETURNING
  GET  /users?limit=&offset=      db-pagination, OFFSET
  GET  /users?limit=&after=       db-pagination, keyset (cursor)
Settings come from the environment (BACKEND_DB_*), set by roles/backend.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Query
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field


def _conninfo() -> str:
    with open(os.environ["BACKEND_DB_PASSWORD_FILE"], encoding="utf-8") as f:
        password = f.read().strip()
    return (
        f"host={os.environ.get('BACKEND_DB_HOST', '127.0.0.1')} "
        f"port={os.environ.get('BACKEND_DB_PORT', '5432')} "
        f"dbname={os.environ.get('BACKEND_DB_NAME', 'benchlab_backend')} "
        f"user={os.environ.get('BACKEND_DB_USER', 'benchlab_backend')} password={password}"
    )


POOL_SIZE = int(os.environ.get("BACKEND_DB_POOL_SIZE", "10"))
pool = AsyncConnectionPool(
    _conninfo, min_size=POOL_SIZE, max_size=POOL_SIZE, open=False, kwargs={"row_factory": dict_row}
)


@asynccontextmanager
async def lifespan(_app: FastAPI):
    await pool.open(wait=True)
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    qty: int = Field(ge=1, le=1000)
    price: float = Field(ge=0)


class Order(BaseModel):
    customer: str = Field(min_length=1, max_length=100)
    items: list[Item] = Field(min_length=1, max_length=100)


class NewPost(BaseModel):
    user_id: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(max_length=10000)


@app.get("/health")
async def health() -> dict:
    return {"status": "ok"}


@app.post("/json")
async def json_payload(order: Order) -> dict:
    total = sum(i.qty * i.price for i in order.items)
    return {"customer": order.customer, "count": len(order.items), "total": round(total, 2)}


@app.get("/users/{user_id}")
async def get_user(user_id: int) -> dict:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id, username, email, full_name, age, created_at FROM users WHERE id = %s",
            (user_id,),
        )
        row = await cur.fetchone()
    if row is None:
        raise HTTPException(404, "no such user")
    return row


@app.post("/posts", status_code=201)
async def create_post(post: NewPost) -> dict:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO posts (user_id, title, body) VALUES (%s, %s, %s)"
            " RETURNING id, user_id, title, body, created_at",
            (post.user_id, post.title, post.body),
        )
        return await cur.fetchone()


@app.get("/users")
async def list_users(
    limit: int = Query(20, ge=1, le=100),
    offset: int | None = Query(None, ge=0),
    after: int | None = Query(None, ge=0),
) -> dict:
    cols = "id, username, email, full_name, age, created_at"
    async with pool.connection() as conn:
        if after is not None:
            cur = await conn.execute(
                f"SELECT {cols} FROM users WHERE id > %s ORDER BY id LIMIT %s", (after, limit)
            )
        else:
            cur = await conn.execute(
                f"SELECT {cols} FROM users ORDER BY id LIMIT %s OFFSET %s", (limit, offset or 0)
            )
        rows = await cur.fetchall()
    return {"items": rows, "next_after": rows[-1]["id"] if rows else None}
