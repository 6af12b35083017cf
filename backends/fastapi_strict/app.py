"""FastAPI, strict / clean-architecture style: the same endpoints as fastapi_pragmatic
(backends/README.md), through layers: API schemas (request and response models) ->
use cases (application) -> domain entities and repository ports -> PostgreSQL adapters,
wired by dependency injection. Each response is mapped from a domain object to its schema.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, Field

from fastapi_strict import adapters
from fastapi_strict.domain import Order, OrderLine, Post, User, UserNotFound
from fastapi_strict.use_cases import CheckHealth, CreatePost, GetUser, ListUsers, PriceOrder


@asynccontextmanager
async def lifespan(app: FastAPI):
    pool = adapters.make_pool()
    await pool.open(wait=True)
    app.state.pool = pool
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


# --- API schemas ---------------------------------------------------------------------
class HealthOut(BaseModel):
    status: str


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    qty: int = Field(ge=1, le=1000)
    price: float = Field(ge=0)


class OrderIn(BaseModel):
    customer: str = Field(min_length=1, max_length=100)
    items: list[ItemIn] = Field(min_length=1, max_length=100)

    def to_domain(self) -> Order:
        return Order(self.customer, tuple(OrderLine(i.name, i.qty, i.price) for i in self.items))


class OrderSummaryOut(BaseModel):
    customer: str
    count: int
    total: float


class UserOut(BaseModel):
    id: int
    username: str
    email: str
    full_name: str
    age: int
    created_at: datetime

    @classmethod
    def from_domain(cls, user: User) -> UserOut:
        return cls(**user.__dict__)


class PostIn(BaseModel):
    user_id: int = Field(ge=1)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(max_length=10000)


class PostOut(BaseModel):
    id: int
    user_id: int
    title: str
    body: str
    created_at: datetime

    @classmethod
    def from_domain(cls, post: Post) -> PostOut:
        return cls(**post.__dict__)


class PageOut(BaseModel):
    items: list[UserOut]
    next_after: int | None


# --- dependency injection ----------------------------------------------------------------
def user_repository(request: Request) -> adapters.PgUserRepository:
    return adapters.PgUserRepository(request.app.state.pool)


def post_repository(request: Request) -> adapters.PgPostRepository:
    return adapters.PgPostRepository(request.app.state.pool)


def check_health() -> CheckHealth:
    return CheckHealth()


def price_order() -> PriceOrder:
    return PriceOrder()


def get_user_case(users: Annotated[adapters.PgUserRepository, Depends(user_repository)]) -> GetUser:
    return GetUser(users)


def create_post_case(
    posts: Annotated[adapters.PgPostRepository, Depends(post_repository)],
) -> CreatePost:
    return CreatePost(posts)


def list_users_case(
    users: Annotated[adapters.PgUserRepository, Depends(user_repository)],
) -> ListUsers:
    return ListUsers(users)


# --- routes --------------------------------------------------------------------------------
@app.get("/health", response_model=HealthOut)
async def health(case: Annotated[CheckHealth, Depends(check_health)]) -> HealthOut:
    status = await case.execute()
    return HealthOut(status=status.status)


@app.post("/json", response_model=OrderSummaryOut)
async def json_payload(
    order: OrderIn, case: Annotated[PriceOrder, Depends(price_order)]
) -> OrderSummaryOut:
    summary = await case.execute(order.to_domain())
    return OrderSummaryOut(customer=summary.customer, count=summary.count, total=summary.total)


@app.get("/users/{user_id}", response_model=UserOut)
async def get_user(user_id: int, case: Annotated[GetUser, Depends(get_user_case)]) -> UserOut:
    try:
        return UserOut.from_domain(await case.execute(user_id))
    except UserNotFound:
        raise HTTPException(404, "no such user") from None


@app.post("/posts", response_model=PostOut, status_code=201)
async def create_post(
    post: PostIn, case: Annotated[CreatePost, Depends(create_post_case)]
) -> PostOut:
    return PostOut.from_domain(await case.execute(post.user_id, post.title, post.body))


@app.get("/users", response_model=PageOut)
async def list_users(
    case: Annotated[ListUsers, Depends(list_users_case)],
    limit: int = Query(20, ge=1, le=100),
    offset: int | None = Query(None, ge=0),
    after: int | None = Query(None, ge=0),
) -> PageOut:
    page = await case.execute(limit, offset, after)
    return PageOut(items=[UserOut.from_domain(u) for u in page.users], next_after=page.next_after)
