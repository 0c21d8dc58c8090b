"""``minewatch users ...``: the people who log in to the API and dashboard."""

from __future__ import annotations

import typer

from minewatch.cli import output
from minewatch.cli.main import app

users_app = typer.Typer(help="Users of the API and dashboard: admin, analyst or viewer.",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")

console = output.console()
REGISTRY_OPT = typer.Option(
    ..., "--registry", "-r", envvar="MINEWATCH_REGISTRY",
    help="Registry: a .gpkg path or a postgresql:// URL (or set MINEWATCH_REGISTRY).")
PASSWORD_OPT = typer.Option(
    None, "--password", envvar="MINEWATCH_USER_PASSWORD",
    help="The password (or set MINEWATCH_USER_PASSWORD); without it one is generated and "
    "printed once.")


def _open(url: str):
    from minewatch.registry import open_registry

    return open_registry(url)


@users_app.command("add")
def add(
    username: str = typer.Argument(..., help="User name."),
    role: str = typer.Option(..., "--role", help="admin, analyst or viewer."),
    password: str = PASSWORD_OPT,
    registry: str = REGISTRY_OPT,
) -> None:
    """Create a user."""
    from minewatch.run.accounts import add_user

    reg = _open(registry)
    try:
        user, generated = add_user(reg, username, role, password=password, by="cli")
    finally:
        reg.close()
    console.print(f"user {user['user_id']} ({user['role']}) created")
    if generated:
        console.print(f"password (shown once): {generated}")


@users_app.command("list")
def list_(registry: str = REGISTRY_OPT) -> None:
    """List the users and their roles."""
    from minewatch.run.accounts import list_users

    reg = _open(registry)
    try:
        users = list_users(reg)
    finally:
        reg.close()
    for u in users:
        state = "" if u["active"] else "  (deactivated)"
        console.print(f"{u['user_id']}\t{u['role']}{state}")


@users_app.command("passwd")
def passwd(
    username: str = typer.Argument(..., help="User name."),
    password: str = PASSWORD_OPT,
    registry: str = REGISTRY_OPT,
) -> None:
    """Set a user's password (their sessions end)."""
    import secrets

    from minewatch.run.accounts import set_password

    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(12)
    reg = _open(registry)
    try:
        set_password(reg, username, password, by="cli")
    finally:
        reg.close()
    console.print(f"password of {username} changed")
    if generated:
        console.print(f"password (shown once): {generated}")
