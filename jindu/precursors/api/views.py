"""API viewsets of the precursors app (filled in by the API work)."""

ROUTES: list = []
