"""Domain layer: entities and the repository ports. No framework, no SQL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class User:
    id: int
    username: str
    email: str
    full_name: str
    age: int
    created_at: datetime


@dataclass(frozen=True)
class Post:
    id: int
    user_id: int
    title: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class OrderLine:
    name: str
    qty: int
    price: float

    @property
    def amount(self) -> float:
        return self.qty * self.price


@dataclass(frozen=True)
class Order:
    customer: str
    lines: tuple[OrderLine, ...]

    def total(self) -> float:
        return round(sum(line.amount for line in self.lines), 2)


@dataclass(frozen=True)
class Page:
    users: tuple[User, ...]

    @property
    def next_after(self) -> int | None:
        return self.users[-1].id if self.users else None


class UserNotFound(LookupError):
    pass


class UserRepository(ABC):
    @abstractmethod
    async def get(self, user_id: int) -> User | None: ...

    @abstractmethod
    async def page_offset(self, offset: int, limit: int) -> tuple[User, ...]: ...

    @abstractmethod
    async def page_after(self, after: int, limit: int) -> tuple[User, ...]: ...


class PostRepository(ABC):
    @abstractmethod
    async def add(self, user_id: int, title: str, body: str) -> Post: ...
