"""Application layer: one use case per operation, depending on the domain's ports only."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi_strict.domain import (
    Order,
    Page,
    Post,
    PostRepository,
    User,
    UserNotFound,
    UserRepository,
)


@dataclass(frozen=True)
class HealthStatus:
    status: str


class CheckHealth:
    async def execute(self) -> HealthStatus:
        return HealthStatus(status="ok")


@dataclass(frozen=True)
class OrderSummary:
    customer: str
    count: int
    total: float


class PriceOrder:
    async def execute(self, order: Order) -> OrderSummary:
        return OrderSummary(customer=order.customer, count=len(order.lines), total=order.total())


class GetUser:
    def __init__(self, users: UserRepository) -> None:
        self.users = users

    async def execute(self, user_id: int) -> User:
        user = await self.users.get(user_id)
        if user is None:
            raise UserNotFound(user_id)
        return user


class CreatePost:
    def __init__(self, posts: PostRepository) -> None:
        self.posts = posts

    async def execute(self, user_id: int, title: str, body: str) -> Post:
        return await self.posts.add(user_id, title, body)


class ListUsers:
    def __init__(self, users: UserRepository) -> None:
        self.users = users

    async def execute(self, limit: int, offset: int | None, after: int | None) -> Page:
        if after is not None:
            return Page(await self.users.page_after(after, limit))
        return Page(await self.users.page_offset(offset or 0, limit))
