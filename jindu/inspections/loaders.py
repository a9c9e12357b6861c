"""Loads the shipped checklist profiles (``data/checklists.json``) after every migrate.

Idempotent: a profile missing from the database is created as revision 1; a profile whose
current revision is still the shipped one (``is_builtin``) gets a new builtin revision
when the file's content for it changed; a profile someone revised in Jindu is left as
they made it. Other apps ship their own profiles through
:func:`jindu.inspections.services.ensure_checklist_profiles` with the same format.
"""

from __future__ import annotations

import json
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
CHECKLISTS_JSON = DATA_DIR / "checklists.json"


def shipped_profiles() -> list[dict]:
    """The profiles of ``data/checklists.json`` (each: code, name, category, default,
    pass_score_pct, rectification_days, source, description, items[code, text, points,
    required, basis])."""
    with CHECKLISTS_JSON.open(encoding="utf-8") as fh:
        return json.load(fh)["profiles"]


def sync_after_migrate(**kwargs) -> None:
    from jindu.inspections.services import ensure_checklist_profiles

    ensure_checklist_profiles(shipped_profiles())
