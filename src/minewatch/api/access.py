"""Routes of access: log in and out (browser session), who am I, API tokens, users, audit."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from minewatch.api.auth import CSRF_COOKIE, SESSION_COOKIE, Reg, Who
from minewatch.api.params import Limit, Offset
from minewatch.run import accounts

router = APIRouter(prefix="/api", tags=["access"])


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenBody(BaseModel):
    label: str | None = Field(default=None, max_length=200)


class UserBody(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    role: Literal["admin", "analyst", "viewer"]
    password: str | None = Field(default=None, min_length=8, max_length=1024)


class UserUpdate(BaseModel):
    role: Literal["admin", "analyst", "viewer"] | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1024)


def _secure(request: Request) -> bool:
    forced = request.app.state.secure_cookies
    return request.url.scheme == "https" if forced is None else forced


@router.post("/session")
def login(body: LoginBody, request: Request, response: Response, reg: Reg) -> dict:
    """Log in: sets the session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS) and a
    readable CSRF cookie; send the CSRF token back in ``X-CSRF-Token`` on every write."""
    s = accounts.login(reg, body.username, body.password)
    secure = _secure(request)
    age = int((s.expires_at - s.expires_at.now(s.expires_at.tzinfo)).total_seconds())
    response.set_cookie(SESSION_COOKIE, s.token, max_age=age, httponly=True, secure=secure,
                        samesite="strict", path="/")
    response.set_cookie(CSRF_COOKIE, s.csrf_token, max_age=age, httponly=False, secure=secure,
                        samesite="strict", path="/")
    return {"user": s.principal.user_id, "role": s.principal.role, "csrf_token": s.csrf_token,
            "expires_at": s.expires_at.isoformat()}


@router.delete("/session")
def logout(request: Request, response: Response, who: Who, reg: Reg) -> dict:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and who.via == "session":
        accounts.logout(reg, cookie)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return {"logged_out": True}


@router.get("/me")
def me(who: Who) -> dict:
    """Who the request is from (``anonymous`` without credentials) and what they may do."""
    return {"user": who.user_id, "role": who.role, "via": who.via,
            "may": sorted(a for a in accounts.PERMISSIONS if accounts.can(who, a))}


@router.post("/tokens", status_code=201)
def create_token(body: TokenBody, who: Who, reg: Reg) -> dict:
    """A new API token for the caller (shown once)."""
    return {"token": accounts.create_token(reg, who, body.label), "label": body.label}


@router.get("/users")
def list_users(who: Who, reg: Reg) -> list[dict]:
    accounts.require(who, "manage_users")
    return [{**u, "created_at": u["created_at"].isoformat() if u["created_at"] else None}
            for u in accounts.list_users(reg)]


@router.post("/users", status_code=201)
def add_user(body: UserBody, who: Who, reg: Reg) -> dict:
    """Create a user (admins); without a password one is generated and returned once."""
    accounts.require(who, "manage_users")
    user, generated = accounts.add_user(reg, body.username, body.role, password=body.password,
                                        by=who.user_id)
    return {"user": user["user_id"], "role": user["role"], "password": generated}


@router.patch("/users/{username}")
def update_user(username: str, body: UserUpdate, who: Who, reg: Reg) -> dict:
    accounts.require(who, "manage_users")
    if body.password is not None:
        accounts.set_password(reg, username, body.password, by=who.user_id)
    u = accounts.update_user(reg, username, by=who.user_id, role=body.role, active=body.active)
    return {"user": u["user_id"], "role": u["role"], "active": u["active"]}


@router.get("/audit")
def audit(who: Who, reg: Reg, user: str | None = None,
          action: Annotated[str | None, Query(max_length=100)] = None,
          limit: Limit = 100, offset: Offset = 0) -> list[dict]:
    """The audit log of every write, newest first (admins)."""
    rows = accounts.audit_log(reg, who, limit=limit, offset=offset, user_id=user, action=action)
    return [{**r, "at": r["at"].isoformat()} for r in rows]
