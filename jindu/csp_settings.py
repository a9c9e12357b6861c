"""Content-Security-Policy for every page (django-csp 4.x), imported by ``jindu.settings``.

No inline scripts anywhere: pages load vendored files from ``/static/`` and pass data to
them through ``json_script`` tags (JSON, not executable). htmx is configured by a
``<meta name="htmx-config">`` tag in ``base.html`` so it neither evaluates strings
(``allowEval``) nor injects its indicator ``<style>`` element.
Bootstrap's CSS uses ``data:`` SVG images (form controls), hence ``img-src data:``.

Settings use, in ``jindu/settings.py`` after ``MIDDLEWARE``::

    from jindu.csp_settings import CONTENT_SECURITY_POLICY, CSP_MIDDLEWARE  # noqa: E402
    MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, CSP_MIDDLEWARE)
"""

from __future__ import annotations

from csp.constants import NONE, SELF

CSP_MIDDLEWARE = "csp.middleware.CSPMiddleware"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
