from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    name = "jindu.inspections"
    label = "inspections"
    verbose_name = _("检查与整改")

    def ready(self):
        from django.db.models.signals import post_migrate

        from jindu.inspections import loaders

        post_migrate.connect(loaders.sync_after_migrate, sender=self, dispatch_uid="jindu.inspections.checklists")
