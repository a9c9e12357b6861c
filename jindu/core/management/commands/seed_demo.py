"""Create (or bring up to date) the demo world: every installed Jindu app's ``demo.seed()``.

Apps contribute demo data through a ``demo`` module with ``seed(stdout) -> None``, run in
``INSTALLED_APPS`` order so lower layers (org, accounts) exist before domain apps use them.
Each seed is idempotent: running the command again creates no duplicates.
"""

from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from jindu.geo.models import Division


class Command(BaseCommand):
    help = "Create the demo world for the demo city (idempotent)."

    def handle(self, *args, **options):
        city = settings.JINDU_DEMO_CITY
        if not Division.objects.filter(code=city.ljust(12, "0")).exists():
            raise CommandError(f"请先加载区划：manage.py load_divisions --city {city}")
        for config in apps.get_app_configs():
            if not config.name.startswith("jindu.") or ".tests." in config.name:
                continue
            try:
                module = import_module(f"{config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.demo":
                    raise
                continue
            with transaction.atomic():
                module.seed(self.stdout)
