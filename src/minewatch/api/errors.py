"""minewatch errors as HTTP responses: one table, one handler (only real 5xx are logged)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from minewatch.errors import (AuthenticationError, ConflictError, DataError, InputError,
                              MinewatchError, NotFoundError, PermissionDeniedError,
                              RegistryLockedError, ValidationError)

log = logging.getLogger("minewatch.api")

#: Exception class -> HTTP status; the most specific class listed wins (MRO order).
STATUS_CODES: dict[type[Exception], int] = {
    NotFoundError: 404,
    ValidationError: 422,
    InputError: 400,
    DataError: 422,
    AuthenticationError: 401,
    PermissionDeniedError: 403,
    ConflictError: 409,
    RegistryLockedError: 503,
    MinewatchError: 500,
}


def status_for(exc: Exception) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500


async def minewatch_error(request: Request, exc: MinewatchError) -> JSONResponse:
    status = status_for(exc)
    if status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc)
    body = {"detail": exc.message}
    if exc.hint:
        body["hint"] = exc.hint
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "1"}
    return JSONResponse(body, status_code=status, headers=headers)


def add_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MinewatchError, minewatch_error)
