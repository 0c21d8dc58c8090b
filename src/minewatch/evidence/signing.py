"""Ed25519 signing of evidence manifests (with the ``cryptography`` library).

A key file is a PKCS#8 PEM private key (unencrypted, written with mode 0600);
its public half is written beside it as ``KEY.pub`` (SubjectPublicKeyInfo PEM).
A signature file is JSON::

    {"algorithm": "Ed25519", "signed_file": "manifest.json", "manifest_sha256": "...",
     "public_key": "<base64 of the 32 raw bytes>", "key_id": "<first 16 hex of SHA-256(public key)>",
     "signature": "<base64 of the 64-byte signature over the manifest's exact bytes>"}
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from minewatch.atomic import atomic_path
from minewatch.errors import InputError, VerificationError

ALGORITHM = "Ed25519"


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey | bytes) -> str:
    """Short fingerprint of a public key: first 16 hex digits of SHA-256 of its raw bytes."""
    raw = public if isinstance(public, bytes) else _raw_public(public)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_text(public: Ed25519PublicKey) -> str:
    """Base64 of the 32 raw public-key bytes (how manifests and messages name a signer)."""
    return base64.b64encode(_raw_public(public)).decode("ascii")


def generate_key(path: str | Path, *, overwrite: bool = False) -> tuple[Path, Path, Ed25519PublicKey]:
    """Write a new private key to ``path`` (mode 0600) and its public key to ``path.pub``."""
    path = Path(path)
    pub_path = path.with_name(path.name + ".pub")
    if not overwrite and (path.exists() or pub_path.exists()):
        raise InputError(f"{path}: a key file already exists there",
                         hint="choose another path or pass --force to replace it")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    with atomic_path(path, mode=0o600) as tmp:
        tmp.write_bytes(pem)
    public = private.public_key()
    with atomic_path(pub_path, mode=0o644) as tmp:
        tmp.write_bytes(public.public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo))
    return path, pub_path, public


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key written by :func:`generate_key` (PEM PKCS#8)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"--sign {path}: key file not found",
                         hint="create one with `minewatch keys generate KEYFILE`") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InputError(f"--sign {path}: not an unencrypted PEM private key ({exc})",
                         hint="create one with `minewatch keys generate KEYFILE`") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"--sign {path}: the key is not an Ed25519 key",
                         hint="minewatch signs with Ed25519; `minewatch keys generate` makes one")
    return key


def load_public_key(path_or_text: str | Path) -> Ed25519PublicKey:
    """A public key from a ``.pub`` PEM file, a private key file, or base64 raw text."""
    p = Path(str(path_or_text))
    if p.exists():
        data = p.read_bytes()
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError:
            try:
                key = serialization.load_pem_private_key(data, password=None).public_key()
            except (ValueError, TypeError) as exc:
                raise InputError(f"{p}: not a PEM public or private key ({exc})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise InputError(f"{p}: not an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(str(path_or_text), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise InputError(f"{path_or_text}: neither a key file nor a base64 Ed25519 public key") from None


def sign_bytes(data: bytes, private: Ed25519PrivateKey, signed_file: str) -> dict:
    """The signature record of ``data`` (see module docstring)."""
    public = private.public_key()
    return {
        "algorithm": ALGORITHM,
        "signed_file": signed_file,
        "manifest_sha256": hashlib.sha256(data).hexdigest(),
        "public_key": public_key_text(public),
        "key_id": key_id(public),
        "signature": base64.b64encode(private.sign(data)).decode("ascii"),
    }


def check_signature(data: bytes, sig_path: Path) -> dict:
    """Check a signature file against ``data``; return its record.

    Raises
    ------
    VerificationError
        The signature file is unreadable, of another algorithm, or does not match ``data``.
    """
    try:
        record = json.loads(Path(sig_path).read_text(encoding="utf-8"))
        public_raw = base64.b64decode(record["public_key"], validate=True)
        signature = base64.b64decode(record["signature"], validate=True)
        public = Ed25519PublicKey.from_public_bytes(public_raw)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VerificationError(f"{sig_path}: unreadable signature file ({exc.__class__.__name__}: {exc})") from None
    if record.get("algorithm") != ALGORITHM:
        raise VerificationError(f"{sig_path}: algorithm {record.get('algorithm')!r} is not {ALGORITHM}")
    try:
        public.verify(signature, data)
    except InvalidSignature:
        raise VerificationError(
            f"{sig_path}: the signature does NOT match manifest.json (signer key {key_id(public_raw)}, "
            f"{record['public_key']}): the manifest or the signature was altered") from None
    record["key_id"] = key_id(public_raw)
    return record
