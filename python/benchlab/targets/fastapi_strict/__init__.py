"""FastAPI, strict / clean-architecture style (backends/fastapi_strict): API schemas, use
cases, domain entities and repository ports, PostgreSQL adapters, dependency injection;
uvicorn (uvloop, httptools) workers."""

from __future__ import annotations

from benchlab.targets.request_response import RequestResponseTarget, http_description


class FastapiStrictTarget(RequestResponseTarget):
    name = "fastapi_strict"
    style = "FastAPI, strict / clean architecture: schemas, use cases, repositories, DI"
    description = http_description("FastAPI (strict)", style)


TARGET = FastapiStrictTarget()
