"""Users, their groups and roles, the API tokens they authenticate with, and the passwords they sign in
to the web pages with.

A token is 32 random bytes shown once; only its SHA-256 is stored, so a copy of the database does not
hand out working tokens. Revoking sets `revoked_at`; deactivating a user disables all its tokens.
A password is stored as a salted scrypt hash (werkzeug.security); a user without one cannot sign in to
the pages.
"""
import hashlib
import re
import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from engine import clock
from engine.clock import utc
from engine.errors import Conflict, InvalidInput, NotFound
from engine.storage.database import reader
from engine.storage.schema import api_tokens, user_groups, users

ROLES = ("agent", "supervisor", "designer", "admin")
TOKEN_PREFIX = "fu_"
PASSWORD_LENGTH = (8, 200)
# Checked when the user is unknown or has no password, so that a wrong name takes as long as a wrong password.
_NO_PASSWORD = generate_password_hash(secrets.token_hex(16))
# Letters of any script (王芳, 销售一部), digits and . _ @ -; no spaces or commas (groups are listed with commas).
_NAME = re.compile(r"^[^\W_][\w.@-]{0,99}$")


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    groups: frozenset = field(default_factory=frozenset)
    display_name: str = ""
    active: bool = True

    def as_dict(self) -> dict:
        return {"name": self.name, "display_name": self.display_name, "role": self.role,
                "groups": sorted(self.groups), "active": self.active}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check(name=None, role=None, groups=None):
    errors = {}
    if name is not None and not _NAME.match(name):
        errors["name"] = ["must be 1-100 letters (any script, e.g. 王芳), digits or . _ @ - (starting with a letter "
                          "or digit; no spaces)"]
    if role is not None and role not in ROLES:
        errors["role"] = [f"must be one of: {', '.join(ROLES)}"]
    if groups is not None:
        bad = [g for g in groups if not _NAME.match(g)]
        if bad:
            errors["groups"] = [f"not a valid group name: {', '.join(bad)}"]
    if errors:
        raise InvalidInput("; ".join(f"{k} {v[0]}" for k, v in errors.items()), errors)


class IdentityStore:
    def __init__(self, db):
        self.db = db

    # ---- users -------------------------------------------------------------------------------------
    def add_user(self, name, role, groups=(), display_name="") -> User:
        groups = sorted({g.strip() for g in groups if g and g.strip()})
        _check(name, role, groups)
        try:
            with self.db.begin() as conn:
                user_id = conn.execute(users.insert().values(
                    name=name, role=role, display_name=display_name or "", active=True,
                    created_at=clock.now()).returning(users.c.id)).scalar_one()
                if groups:
                    conn.execute(user_groups.insert(), [{"user_id": user_id, "group_name": g} for g in groups])
        except sa.exc.IntegrityError:
            raise Conflict(f"a user named '{name}' already exists") from None
        return self.user(name)

    def update_user(self, name, role=None, groups=None, display_name=None, active=None) -> User:
        if groups is not None:
            groups = sorted({g.strip() for g in groups if g and g.strip()})
        _check(None, role, groups)
        values = {k: v for k, v in (("role", role), ("display_name", display_name), ("active", active))
                  if v is not None}
        with self.db.begin() as conn:
            user_id = self._user_id(conn, name)
            if values:
                conn.execute(users.update().where(users.c.id == user_id).values(**values))
            if groups is not None:
                conn.execute(user_groups.delete().where(user_groups.c.user_id == user_id))
                if groups:
                    conn.execute(user_groups.insert(), [{"user_id": user_id, "group_name": g} for g in groups])
        return self.user(name)

    def user(self, name) -> User:
        with self.db.connect() as conn:
            found = self._load(conn, users.c.name == name)
        if not found:
            raise NotFound(f"no user named '{name}'")
        return found[0]

    def groups_of(self, name) -> frozenset:
        """The groups of a user by name (empty for an unknown name)."""
        with self.db.connect() as conn:
            return frozenset(conn.execute(sa.select(user_groups.c.group_name).join(
                users, users.c.id == user_groups.c.user_id).where(users.c.name == name)).scalars())

    def members_of(self, groups) -> frozenset:
        """The names of the users in any of `groups`."""
        if not groups:
            return frozenset()
        with self.db.connect() as conn:
            return frozenset(conn.execute(sa.select(users.c.name).join(
                user_groups, users.c.id == user_groups.c.user_id)
                .where(user_groups.c.group_name.in_(sorted(groups)))).scalars())

    def list_users(self, page=1, page_size=50):
        with self.db.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one()
            names = sa.select(users.c.id).order_by(users.c.name).offset((page - 1) * page_size).limit(page_size)
            return self._load(conn, users.c.id.in_(names.scalar_subquery())), total

    @staticmethod
    def _user_id(conn, name):
        user_id = conn.execute(sa.select(users.c.id).where(users.c.name == name)).scalar()
        if user_id is None:
            raise NotFound(f"no user named '{name}'")
        return user_id

    @staticmethod
    def _load(conn, condition) -> list[User]:
        rows = conn.execute(sa.select(users, user_groups.c.group_name).select_from(
            users.outerjoin(user_groups, user_groups.c.user_id == users.c.id)).where(condition)
            .order_by(users.c.name)).all()
        return _users_from_rows(rows)

    # ---- tokens ------------------------------------------------------------------------------------
    def issue_token(self, name) -> tuple[int, str]:
        """A new token for the user: (token id, the token itself, shown only now)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.begin() as conn:
            user_id = self._user_id(conn, name)
            token_id = conn.execute(api_tokens.insert().values(
                user_id=user_id, token_hash=hash_token(token), created_at=clock.now())
                .returning(api_tokens.c.id)).scalar_one()
        return token_id, token

    def tokens(self, name) -> list[dict]:
        with self.db.connect() as conn:
            user_id = self._user_id(conn, name)
            rows = conn.execute(sa.select(api_tokens.c.id, api_tokens.c.created_at, api_tokens.c.revoked_at)
                                .where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id)).all()
        return [{"id": r.id, "created_at": utc(r.created_at), "revoked_at": utc(r.revoked_at)} for r in rows]

    def revoke_token(self, name, token_id) -> None:
        if not 0 < token_id < 2**31:
            raise NotFound(f"user '{name}' has no active token with id {token_id}")
        with self.db.begin() as conn:
            user_id = self._user_id(conn, name)
            done = conn.execute(api_tokens.update().where(
                api_tokens.c.id == token_id, api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=clock.now()))
            if done.rowcount != 1:
                raise NotFound(f"user '{name}' has no active token with id {token_id}")

    def revoke_presented(self, token) -> None:
        """Revoke the token used for this very call (a user logging out)."""
        with self.db.begin() as conn:
            conn.execute(api_tokens.update().where(api_tokens.c.token_hash == hash_token(token),
                                                   api_tokens.c.revoked_at.is_(None))
                         .values(revoked_at=clock.now()))

    # ---- passwords (the web pages' sign-in) ---------------------------------------------------------
    def set_password(self, name, password) -> None:
        low, high = PASSWORD_LENGTH
        if not isinstance(password, str) or not low <= len(password) <= high:
            raise InvalidInput(f"a password has {low} to {high} characters",
                               {"password": [f"must have {low} to {high} characters"]})
        with self.db.begin() as conn:
            user_id = self._user_id(conn, name)
            conn.execute(users.update().where(users.c.id == user_id)
                         .values(password_hash=generate_password_hash(password)))

    def sign_in(self, name, password) -> tuple[User, str] | None:
        """(the active user, their password stamp) when `password` is theirs; None for anything else."""
        rows = self._rows_by_name(name) if isinstance(name, str) and len(name) <= 100 else []
        stored = rows[0].password_hash if rows and rows[0].active else None
        matches = check_password_hash(stored or _NO_PASSWORD, password if isinstance(password, str) else "")
        if stored is None or not matches:
            return None
        return _users_from_rows(rows)[0], password_stamp(stored)

    def signed_in(self, name, stamp) -> User | None:
        """The user of a page session: active, and their password unchanged since they signed in (a new
        password ends every session made with the old one)."""
        rows = self._rows_by_name(name)
        if not rows or not rows[0].active or rows[0].password_hash is None:
            return None
        if not secrets.compare_digest(password_stamp(rows[0].password_hash), stamp or ""):
            return None
        return _users_from_rows(rows)[0]

    def _rows_by_name(self, name):
        with reader(self.db).connect() as conn:
            return conn.execute(sa.select(users, user_groups.c.group_name).select_from(
                users.outerjoin(user_groups, user_groups.c.user_id == users.c.id)).where(users.c.name == name)).all()

    def authenticate(self, token) -> User | None:
        """The active user a valid, unrevoked token belongs to; None for anything else."""
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        query = (sa.select(users, user_groups.c.group_name)
                 .select_from(api_tokens.join(users, users.c.id == api_tokens.c.user_id)
                              .outerjoin(user_groups, user_groups.c.user_id == users.c.id))
                 .where(api_tokens.c.token_hash == hash_token(token), api_tokens.c.revoked_at.is_(None),
                        users.c.active.is_(True)))
        with reader(self.db).connect() as conn:
            found = _users_from_rows(conn.execute(query).all())
        return found[0] if found else None


def password_stamp(password_hash: str) -> str:
    """A short fingerprint of a stored password hash, kept in the page session (not the hash itself)."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:24]


def _users_from_rows(rows) -> list[User]:
    by_id = {}
    groups = {}
    for row in rows:
        by_id.setdefault(row.id, row)
        if row.group_name is not None:
            groups.setdefault(row.id, set()).add(row.group_name)
    return [User(r.id, r.name, r.role, frozenset(groups.get(i, ())), r.display_name or "", bool(r.active))
            for i, r in by_id.items()]

