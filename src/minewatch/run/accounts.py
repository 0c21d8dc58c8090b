"""Accounts and access: users, passwords (argon2id), API tokens, sessions, permissions.

The CLI (``minewatch users ...``) and the REST API call these functions. Who may do what is
decided here, once (:func:`require`): ``admin`` manages users and edits the registry,
``analyst`` records runs and reviews alerts, ``viewer`` reads everything, and the anonymous
public reads published alerts only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from minewatch.errors import AuthenticationError, InputError, NotFoundError, PermissionDeniedError
from minewatch.registry import Registry

#: Environment variable holding the first admin's password (else one is generated).
ADMIN_PASSWORD_ENV = "MINEWATCH_ADMIN_PASSWORD"
ADMIN_USER = "admin"
SESSION_HOURS = 12
MIN_PASSWORD = 8

#: Actions and the roles allowed to do them.
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "read": ("admin", "analyst", "viewer"),
    "review": ("admin", "analyst"),
    "record_run": ("admin", "analyst"),
    "field": ("admin", "analyst"),
    "edit_registry": ("admin",),
    "manage_users": ("admin",),
    "read_audit": ("admin",),
}

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user and role, or the anonymous public (``user_id`` None)."""

    user_id: str | None
    role: str | None
    #: How they authenticated: ``token``, ``session`` or ``anonymous``.
    via: str = "anonymous"

    @property
    def anonymous(self) -> bool:
        return self.user_id is None


ANONYMOUS = Principal(None, None)


def can(who: Principal, action: str) -> bool:
    return who.role is not None and who.role in PERMISSIONS[action]


def require(who: Principal, action: str) -> None:
    """Raise unless ``who`` may do ``action`` (401 for the anonymous, 403 for a role)."""
    if can(who, action):
        return
    if who.anonymous:
        raise AuthenticationError("log in first (a session or an API token)")
    raise PermissionDeniedError(f"role {who.role} may not {action.replace('_', ' ')}")


def _sha256(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise InputError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def add_user(reg: Registry, user_id: str, role: str, *, password: str | None = None,
             by: str | None = None) -> tuple[dict, str | None]:
    """Create a user; returns (user, the generated password or ``None`` when one was given)."""
    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(12)
    user = reg.access.add_user(user_id, role, hash_password(password), created_by=by)
    return user, generated


def list_users(reg: Registry) -> list[dict]:
    return reg.access.users()


def set_password(reg: Registry, user_id: str, password: str, *, by: str | None) -> None:
    reg.access.update_user(user_id, by=by, password_hash=hash_password(password))


def update_user(reg: Registry, user_id: str, *, by: str | None, role: str | None = None,
                active: bool | None = None) -> dict:
    reg.access.update_user(user_id, by=by, role=role, active=active)
    return reg.access.user(user_id)


def authenticate(reg: Registry, user_id: str, password: str) -> Principal:
    """The user whose password this is (AuthenticationError otherwise, the same message for
    an unknown user and a wrong password)."""
    wrong = AuthenticationError("wrong user name or password")
    try:
        user = reg.access.user(user_id, with_hash=True)
    except NotFoundError:
        _hasher.hash("x" * MIN_PASSWORD)  # similar time for unknown users
        raise wrong from None
    try:
        _hasher.verify(user["password_hash"], password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise wrong from None
    if not user["active"]:
        raise wrong
    if _hasher.check_needs_rehash(user["password_hash"]):
        reg.access.update_user(user_id, by=user_id, password_hash=_hasher.hash(password))
    return Principal(user["user_id"], user["role"], "password")


def ensure_admin(reg: Registry) -> str | None:
    """On first start (no admin yet) create user ``admin``: its password from
    ``$MINEWATCH_ADMIN_PASSWORD`` or generated; returns the generated password (print it once)
    or ``None``."""
    if reg.access.count_users("admin"):
        return None
    _, generated = add_user(reg, ADMIN_USER, "admin",
                            password=os.environ.get(ADMIN_PASSWORD_ENV) or None, by="first start")
    return generated


# ---------------------------------------------------------------------- tokens
def create_token(reg: Registry, who: Principal, label: str | None = None) -> str:
    """A new API token of ``who`` (shown once; only its hash is kept)."""
    require(who, "read")
    token = "mw_" + secrets.token_urlsafe(32)
    reg.access.add_token(_sha256(token), token[:11], who.user_id, label)
    return token


def principal_for_token(reg: Registry, token: str) -> Principal:
    user = reg.access.user_for_token(_sha256(token))
    if user is None:
        raise AuthenticationError("unknown or revoked API token")
    return Principal(user["user_id"], user["role"], "token")


# ---------------------------------------------------------------------- sessions
@dataclass(frozen=True)
class Session:
    token: str  #: the cookie value (only its hash is stored)
    csrf_token: str  #: sent back in ``X-CSRF-Token`` on every write
    expires_at: dt.datetime
    principal: Principal


def login(reg: Registry, user_id: str, password: str) -> Session:
    who = authenticate(reg, user_id, password)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=SESSION_HOURS)
    reg.access.add_session(_sha256(token), who.user_id, csrf, expires)
    return Session(token, csrf, expires, Principal(who.user_id, who.role, "session"))


def session_for(reg: Registry, token: str) -> tuple[Principal, str]:
    """(principal, CSRF token) of a live session."""
    s = reg.access.session(_sha256(token))
    if s is None:
        raise AuthenticationError("session expired or unknown; log in again")
    return Principal(s["user_id"], s["role"], "session"), s["csrf_token"]


def logout(reg: Registry, token: str) -> None:
    reg.access.drop_session(_sha256(token))


def audit_log(reg: Registry, who: Principal, *, limit: int = 100, offset: int = 0,
              user_id: str | None = None, action: str | None = None) -> list[dict]:
    require(who, "read_audit")
    return reg.access.audit_log(limit=limit, offset=offset, user_id=user_id, action=action)


def principal_for_user(reg: Registry, user_id: str) -> Principal:
    """A registry user acting through the CLI (who has the registry file or URL already)."""
    user = reg.access.user(user_id)
    if not user["active"]:
        raise PermissionDeniedError(f"user {user_id!r} is deactivated")
    return Principal(user["user_id"], user["role"], "cli")
