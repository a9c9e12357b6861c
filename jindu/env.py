"""Reading settings from the environment."""

from __future__ import annotations

import os


def env_bool(name: str, default: bool) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case); unset or empty gives ``default``.

    Raises ``ValueError`` for anything else, so a typo never silently flips a setting.
    """
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be 0/1/true/false, got {value!r}")
