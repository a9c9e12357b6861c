from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrecursorsConfig(AppConfig):
    name = "jindu.precursors"
    label = "precursors"
    verbose_name = _("易制毒化学品")

    def ready(self):
        from django.db.models.signals import post_migrate

        from jindu.precursors import loaders
        from jindu.precursors.reconciliation import cover

        post_migrate.connect(loaders.sync_after_migrate, sender=self, dispatch_uid="jindu.precursors.catalogue")
        cover.connect()
