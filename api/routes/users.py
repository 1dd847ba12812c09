"""Users and their tokens (admins), and `/api/me` (everyone)."""
from flask import current_app, url_for

from engine import access
from engine.errors import Conflict

from api.schemas import workflow as s
from api.auth import bearer_token
from api.services import current_user, services
from api.routes.common import Blueprint, paged

blp = Blueprint("users", __name__, url_prefix="/api", description="Users, groups, roles and API tokens")


def _admin():
    access.require(current_user(), access.USER_MANAGE)
    return services().identity


def _forget_cached_tokens():
    current_app.extensions["followup_tokens"].clear()


@blp.route("/me", methods=["GET"])
@blp.response(200, s.MeSchema)
@blp.errors(401)
def me():
    """Who this token belongs to, and what its role allows."""
    user = current_user()
    return {**user.as_dict(), "rights": sorted(access.RIGHTS.get(user.role, ()))}


@blp.route("/me/token", methods=["DELETE"])
@blp.response(204)
@blp.errors(401)
def log_out():
    """Revoke the token this call was made with."""
    services().identity.revoke_presented(bearer_token())
    _forget_cached_tokens()


@blp.route("/users", methods=["GET"])
@blp.arguments(s.PageArgs, location="query", as_kwargs=True)
@blp.response(200, s.UserPageSchema)
@blp.errors(401, 403)
def list_users(page, page_size):
    """Every user, by name."""
    items, total = _admin().list_users(page, page_size)
    return paged([u.as_dict() for u in items], total, page, page_size)


@blp.route("/users", methods=["POST"])
@blp.arguments(s.UserCreateArgs)
@blp.response(201, s.IssuedTokenSchema)
@blp.errors(401, 403, 409, 422)
def add_user(args):
    """Create a user and its first token (shown only in this answer)."""
    identity = _admin()
    user = identity.add_user(args["name"], args["role"], args["groups"], args["display_name"])
    token_id, token = identity.issue_token(user.name)
    return ({"id": token_id, "token": token, "user": user.as_dict()}, 201,
            {"Location": url_for("users.get_user", name=user.name)})


@blp.route("/users/<name>", methods=["GET"])
@blp.response(200, s.UserSchema)
@blp.errors(401, 403, 404)
def get_user(name):
    return _admin().user(name).as_dict()


@blp.route("/users/<name>", methods=["PATCH"])
@blp.arguments(s.UserUpdateArgs)
@blp.response(200, s.UserSchema)
@blp.errors(401, 403, 404, 409, 422)
def update_user(args, name):
    """Change a user's role, groups, display name, or deactivate it (its tokens stop working)."""
    identity = _admin()
    if name == current_user().name and (args.get("active") is False or args.get("role", "admin") != "admin"):
        raise Conflict("an admin cannot deactivate or demote themselves; ask another admin")
    user = identity.update_user(name, **args)
    _forget_cached_tokens()
    return user.as_dict()


@blp.route("/users/<name>/tokens", methods=["GET"])
@blp.response(200, s.TokenSchema(many=True))
@blp.errors(401, 403, 404)
def list_tokens(name):
    """The user's tokens (ids and dates only; the tokens themselves are never stored)."""
    return _admin().tokens(name)


@blp.route("/users/<name>/tokens", methods=["POST"])
@blp.response(201, s.IssuedTokenSchema)
@blp.errors(401, 403, 404)
def issue_token(name):
    """Issue a new token for the user (shown only in this answer)."""
    identity = _admin()
    token_id, token = identity.issue_token(name)
    return {"id": token_id, "token": token, "user": identity.user(name).as_dict()}, 201


@blp.route("/users/<name>/tokens/<int:token_id>", methods=["DELETE"])
@blp.response(204)
@blp.errors(401, 403, 404)
def revoke_token(name, token_id):
    """Revoke one token."""
    _admin().revoke_token(name, token_id)
    _forget_cached_tokens()
