"""A user's own HTTP backend (the request/response kind): start command, port, health URL and
the scenarios it implements come from the inventory's ``backend_extra`` (README, "HTTP
backends")."""

from __future__ import annotations

from benchlab.targets.request_response import RequestResponseTarget, http_description


class HttpBackendTarget(RequestResponseTarget):
    name = "http_backend"
    style = "an HTTP backend of your own"
    description = http_description("HTTP backend", style)


TARGET = HttpBackendTarget()
