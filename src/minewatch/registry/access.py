"""Access records: users, API tokens and browser sessions (as hashes), and the audit log.

Only storage lives here; hashing passwords, making tokens and deciding who may do what is
the application layer's (``run/accounts.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import sqlalchemy as sa

from minewatch.errors import ConflictError, InputError, NotFoundError
from minewatch.registry import rows as R
from minewatch.registry.connection import Database
from minewatch.registry.schema import ROLES, TABLES

_USER_COLUMNS = ("user_id", "role", "active", "created_at", "created_by")


def audit_row(user_id: str | None, action: str, target: str | None,
              detail: dict | None = None) -> dict:
    """One audit-log row, stamped now."""
    return {"audit_id": uuid.uuid4().hex, "at": R.now(), "user_id": user_id, "action": action,
            "target": target,
            "detail": json.dumps(detail, sort_keys=True, default=str) if detail else None}


class Access:
    """Users, tokens, sessions and the audit log of one registry."""

    def __init__(self, db: Database):
        self.db = db

    # ------------------------------------------------------------------ users
    def add_user(self, user_id: str, role: str, password_hash: str, *,
                 created_by: str | None) -> dict:
        if role not in ROLES:
            raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if not user_id or not user_id.strip() or len(user_id) > 64:
            raise InputError("a user name must be 1 to 64 characters")
        t = TABLES["users"]
        row = {"user_id": user_id, "role": role, "password_hash": password_hash, "active": True,
               "created_at": R.now(), "created_by": created_by}
        with self.db.write() as conn:
            if conn.execute(sa.select(t.c.fid).where(t.c.user_id == user_id)).first():
                raise ConflictError(f"user {user_id!r} already exists")
            conn.execute(t.insert().values(**row))
            conn.execute(TABLES["audit_log"].insert().values(
                **audit_row(created_by, "user.add", user_id, {"role": role})))
        return {k: row[k] for k in _USER_COLUMNS}

    def user(self, user_id: str, *, with_hash: bool = False) -> dict:
        t = TABLES["users"]
        with self.db.read() as conn:
            r = conn.execute(sa.select(t).where(t.c.user_id == user_id)).first()
        if r is None:
            raise NotFoundError(f"no user {user_id!r}")
        d = R.record(r)
        if not with_hash:
            d.pop("password_hash")
        return d

    def users(self) -> list[dict]:
        t = TABLES["users"]
        with self.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(
                sa.select(*[t.c[c] for c in _USER_COLUMNS]).order_by(t.c.user_id))]

    def count_users(self, role: str | None = None) -> int:
        t = TABLES["users"]
        stmt = sa.select(sa.func.count()).select_from(t)
        if role:
            stmt = stmt.where(t.c.role == role)
        with self.db.read() as conn:
            return conn.execute(stmt).scalar_one()

    def update_user(self, user_id: str, *, by: str | None, password_hash: str | None = None,
                    role: str | None = None, active: bool | None = None) -> None:
        t = TABLES["users"]
        values: dict = {}
        if password_hash is not None:
            values["password_hash"] = password_hash
        if role is not None:
            if role not in ROLES:
                raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}")
            values["role"] = role
        if active is not None:
            values["active"] = bool(active)
        if not values:
            return
        with self.db.write() as conn:
            n = conn.execute(t.update().where(t.c.user_id == user_id).values(**values)).rowcount
            if not n:
                raise NotFoundError(f"no user {user_id!r}")
            if password_hash is not None or active is False:  # old sessions end
                conn.execute(TABLES["user_sessions"].delete().where(
                    TABLES["user_sessions"].c.user_id == user_id))
            detail = {k: v for k, v in values.items() if k != "password_hash"}
            if password_hash is not None:
                detail["password"] = "changed"
            conn.execute(TABLES["audit_log"].insert().values(
                **audit_row(by, "user.update", user_id, detail)))

    # ------------------------------------------------------------------ tokens
    def add_token(self, token_sha256: str, token_id: str, user_id: str, label: str | None) -> None:
        t = TABLES["api_tokens"]
        with self.db.write() as conn:
            conn.execute(t.insert().values(token_sha256=token_sha256, token_id=token_id,
                                           user_id=user_id, label=label, created_at=R.now(),
                                           revoked=False))
            conn.execute(TABLES["audit_log"].insert().values(
                **audit_row(user_id, "token.add", token_id, {"label": label})))

    def tokens(self, user_id: str) -> list[dict]:
        t = TABLES["api_tokens"]
        with self.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(
                sa.select(t.c.token_id, t.c.label, t.c.created_at, t.c.revoked)
                .where(t.c.user_id == user_id).order_by(t.c.created_at))]

    def revoke_token(self, user_id: str, token_id: str) -> None:
        t = TABLES["api_tokens"]
        with self.db.write() as conn:
            n = conn.execute(t.update().where(t.c.user_id == user_id, t.c.token_id == token_id)
                             .values(revoked=True)).rowcount
            if not n:
                raise NotFoundError(f"no token {token_id!r} of user {user_id!r}")
            conn.execute(TABLES["audit_log"].insert().values(
                **audit_row(user_id, "token.revoke", token_id)))

    def user_for_token(self, token_sha256: str) -> dict | None:
        """The active user owning an unrevoked token (``None`` otherwise)."""
        t, u = TABLES["api_tokens"], TABLES["users"]
        stmt = (sa.select(u.c.user_id, u.c.role).join(t, t.c.user_id == u.c.user_id)
                .where(t.c.token_sha256 == token_sha256, t.c.revoked.is_(False),
                       u.c.active.is_(True)))
        with self.db.read() as conn:
            r = conn.execute(stmt).first()
        return dict(r._mapping) if r else None

    # ------------------------------------------------------------------ sessions
    def add_session(self, session_sha256: str, user_id: str, csrf_token: str,
                    expires_at: dt.datetime) -> None:
        t = TABLES["user_sessions"]
        with self.db.write() as conn:
            conn.execute(t.delete().where(t.c.expires_at < R.now()))
            conn.execute(t.insert().values(session_sha256=session_sha256, user_id=user_id,
                                           csrf_token=csrf_token, created_at=R.now(),
                                           expires_at=expires_at))
            conn.execute(TABLES["audit_log"].insert().values(
                **audit_row(user_id, "session.login", user_id)))

    def session(self, session_sha256: str) -> dict | None:
        """``{user_id, role, csrf_token}`` of a live session of an active user (else ``None``)."""
        s, u = TABLES["user_sessions"], TABLES["users"]
        stmt = (sa.select(u.c.user_id, u.c.role, s.c.csrf_token, s.c.expires_at)
                .join(s, s.c.user_id == u.c.user_id)
                .where(s.c.session_sha256 == session_sha256, u.c.active.is_(True)))
        with self.db.read() as conn:
            r = conn.execute(stmt).first()
        if r is None or r.expires_at < R.now():
            return None
        return {"user_id": r.user_id, "role": r.role, "csrf_token": r.csrf_token}

    def drop_session(self, session_sha256: str) -> None:
        t = TABLES["user_sessions"]
        with self.db.write() as conn:
            r = conn.execute(sa.select(t.c.user_id).where(
                t.c.session_sha256 == session_sha256)).first()
            if r is None:
                return
            conn.execute(t.delete().where(t.c.session_sha256 == session_sha256))
            conn.execute(TABLES["audit_log"].insert().values(
                **audit_row(r.user_id, "session.logout", r.user_id)))

    # ------------------------------------------------------------------ audit
    def audit(self, user_id: str | None, action: str, target: str | None,
              detail: dict | None = None, *, conn: sa.Connection | None = None) -> None:
        """Record one write (``conn``: inside the caller's write transaction)."""
        row = audit_row(user_id, action, target, detail)
        if conn is not None:
            conn.execute(TABLES["audit_log"].insert().values(**row))
            return
        with self.db.write() as c:
            c.execute(TABLES["audit_log"].insert().values(**row))

    def audit_log(self, *, limit: int = 100, offset: int = 0, user_id: str | None = None,
                  action: str | None = None) -> list[dict]:
        """The audit log, newest first."""
        t = TABLES["audit_log"]
        stmt = sa.select(t)
        if user_id:
            stmt = stmt.where(t.c.user_id == user_id)
        if action:
            stmt = stmt.where(t.c.action == action)
        stmt = stmt.order_by(t.c.at.desc(), t.c.fid.desc()).limit(limit).offset(offset)
        with self.db.read() as conn:
            out = []
            for r in conn.execute(stmt):
                d = R.record(r)
                d["detail"] = json.loads(d["detail"]) if d["detail"] else None
                out.append(d)
            return out
