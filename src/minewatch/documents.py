"""Small YAML/JSON documents users write by hand (column-mapping files and the like)."""

from __future__ import annotations

import json
from pathlib import Path

from minewatch.errors import InputError


def load_document(path: str | Path, what: str = "mapping file") -> dict:
    """Read a ``.json`` or YAML (any other suffix) file holding one key: value document.

    Raises :class:`InputError` naming the file when it is missing, unparsable or not a mapping.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} {p} not found")
    text = p.read_text(encoding="utf-8-sig")
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # json and yaml raise their own error types
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{p}: not a valid {what}: {first}") from None
    if not isinstance(data, dict):
        raise InputError(f"{p}: a {what} must be a key: value document")
    return data
