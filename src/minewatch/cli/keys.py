"""``minewatch keys``: Ed25519 signing keys for evidence manifests."""

from __future__ import annotations

from pathlib import Path

import typer

from minewatch.cli.main import app

keys_app = typer.Typer(help="Ed25519 keys to sign evidence manifests (`analyze --sign KEYFILE`).",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("generate")
def generate(
    keyfile: Path = typer.Argument(..., help="Private key file to create (PEM, mode 0600); the public key "
                                   "goes to KEYFILE.pub."),
    force: bool = typer.Option(False, "--force", help="Replace existing key files."),
) -> None:
    """Create a new Ed25519 key pair and print its public key and key id."""
    from minewatch.evidence.signing import generate_key, key_id, public_key_text

    path, pub, public = generate_key(keyfile, overwrite=force)
    typer.echo(f"private key: {path} (keep it secret; mode 0600)")
    typer.echo(f"public key:  {pub}")
    typer.echo(f"key id:      {key_id(public)}")
    typer.echo(f"public key (base64): {public_key_text(public)}")


@keys_app.command("show")
def show(keyfile: Path = typer.Argument(..., help="Private or public key file.")) -> None:
    """Print the key id and the base64 public key of a key file."""
    from minewatch.evidence.signing import key_id, load_public_key, public_key_text

    public = load_public_key(keyfile)
    typer.echo(f"key id: {key_id(public)}")
    typer.echo(f"public key (base64): {public_key_text(public)}")
