"""FastAPI, pragmatic style (backends/fastapi_pragmatic): routes run SQL through one async
psycopg pool per worker and return dicts; uvicorn (uvloop, httptools) workers."""

from __future__ import annotations

from benchlab.targets.request_response import RequestResponseTarget, http_description


class FastapiPragmaticTarget(RequestResponseTarget):
    name = "fastapi_pragmatic"
    style = "FastAPI, pragmatic: SQL in the routes, async psycopg pool, uvicorn workers"
    description = http_description("FastAPI (pragmatic)", style)


TARGET = FastapiPragmaticTarget()
