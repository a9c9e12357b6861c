from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubstancesConfig(AppConfig):
    name = "jindu.substances"
    label = "substances"
    verbose_name = _("毒品与管制物质")

    def ready(self):
        from django.db.models.signals import post_migrate

        from jindu.substances import loaders

        post_migrate.connect(loaders.sync_after_migrate, sender=self, dispatch_uid="jindu.substances.sync")
