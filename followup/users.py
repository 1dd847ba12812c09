"""`followup user add|token|revoke|list|...`: users and their API tokens."""

import click

from engine.errors import FollowupError

from followup.helpers import fail, open_engine


@click.group()
def user():
    """Manage users and their API tokens."""


def _identity():
    from engine.identity import IdentityStore

    return IdentityStore(open_engine().db)


def _fail(err):
    fail(err)


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["agent", "supervisor", "designer", "admin"]))
@click.option("--groups", default="", help="Comma-separated group names, e.g. sales-east,service")
@click.option("--display-name", default="")
def user_add(name, role, groups, display_name):
    """Create a user and print its token (the only line on stdout)."""
    identity = _identity()
    try:
        identity.add_user(name, role, [g for g in groups.split(",") if g.strip()], display_name)
        _, token = identity.issue_token(name)
    except FollowupError as err:
        _fail(err)
    click.echo(token)


@user.command("token")
@click.argument("name")
def user_token(name):
    """Issue a new token for NAME and print it (the only line on stdout)."""
    try:
        _, token = _identity().issue_token(name)
    except FollowupError as err:
        _fail(err)
    click.echo(token)


@user.command("revoke")
@click.argument("name")
@click.argument("token_id", type=int)
def user_revoke(name, token_id):
    """Revoke token TOKEN_ID of NAME (ids: `followup user list --tokens`)."""
    try:
        _identity().revoke_token(name, token_id)
    except FollowupError as err:
        _fail(err)
    click.echo(f"revoked token {token_id} of {name}", err=True)


@user.command("list")
@click.option("--tokens", is_flag=True, help="Also list each user's tokens")
def user_list(tokens):
    """List users with role and groups."""
    identity = _identity()
    users, _ = identity.list_users(1, 10_000)
    for u in users:
        state = "" if u.active else "  (inactive)"
        click.echo(f"{u.name}\t{u.role}\t{','.join(sorted(u.groups))}{state}")
        if tokens:
            for t in identity.tokens(u.name):
                revoked = f" revoked {t['revoked_at']:%Y-%m-%d %H:%M}" if t["revoked_at"] else ""
                click.echo(f"  token {t['id']} created {t['created_at']:%Y-%m-%d %H:%M}{revoked}")


@user.command("password")
@click.argument("name")
def user_password(name):
    """Set the password NAME signs in to the web pages with, read from standard input (asked twice
    without echo on a terminal; else the first line). Sessions made with the old one end."""
    import sys

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        _identity().set_password(name, password)
    except FollowupError as err:
        _fail(err)
    click.echo(f"password of {name} set", err=True)
