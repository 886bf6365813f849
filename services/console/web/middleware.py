"""Headers on every response of the console, and one log line per request."""

from __future__ import annotations

import time

import structlog
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response

log = structlog.get_logger("likeness.console")


class SecurityHeaders(BaseHTTPMiddleware):
    """No framing, no sniffing, scripts only from /static, and no page stored by any cache."""

    async def dispatch(self, request: Request, call_next) -> Response:
        started = time.monotonic()
        response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
        )
        if request.url.path != "/healthz":
            log.info("http", method=request.method, path=request.url.path, status=response.status_code,
                     duration_ms=round((time.monotonic() - started) * 1000, 1))  # fmt: skip
        return response
