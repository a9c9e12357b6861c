"""Core views, split by concern; each module exports its own ``urlpatterns``."""
