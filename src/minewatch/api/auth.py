"""Who is asking: an API token (``Authorization: Bearer``), a browser session (cookie, with
a CSRF token on every write), or the anonymous public."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request

from minewatch.errors import AuthenticationError, PermissionDeniedError
from minewatch.registry import Registry
from minewatch.run import accounts
from minewatch.run.accounts import ANONYMOUS, Principal

SESSION_COOKIE = "minewatch_session"
CSRF_COOKIE = "minewatch_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def registry(request: Request) -> Registry:
    return request.app.state.registry


Reg = Annotated[Registry, Depends(registry)]


def principal(request: Request, reg: Reg) -> Principal:
    """The caller; a session's unsafe request must carry its CSRF token."""
    auth = request.headers.get("authorization")
    if auth:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("use Authorization: Bearer <token>")
        return accounts.principal_for_token(reg, token.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return ANONYMOUS
    who, csrf = accounts.session_for(reg, cookie)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not secrets.compare_digest(sent.encode(), csrf.encode()):
            raise PermissionDeniedError(f"missing or wrong {CSRF_HEADER} header (CSRF check)")
    return who


Who = Annotated[Principal, Depends(principal)]
