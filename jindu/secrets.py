"""Generate the embedded mode's secrets once into the var directory.

The file is created with mode 0600 on first run and reused afterwards, so sessions,
encrypted fields and blind indexes survive restarts. Production sets the
``JINDU_*_KEY`` environment variables instead.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

_KEYS = ("secret_key", "field_key", "index_key")


def load_or_create_secrets(path: Path) -> dict[str, str]:
    """Return ``{"secret_key", "field_key", "index_key"}``, creating missing ones in ``path``."""
    data: dict[str, str] = {}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
    missing = [k for k in _KEYS if not data.get(k)]
    if missing:
        for key in missing:
            data[key] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
    return data
