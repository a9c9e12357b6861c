from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "jindu.accounts"
    label = "accounts"
    verbose_name = _("用户与权限")

    def ready(self):
        from django.db.models.signals import post_migrate

        from jindu.accounts import signals

        # After every app's migration, so roles pick up permissions of apps added later.
        post_migrate.connect(signals.sync_roles, dispatch_uid="jindu.accounts.sync_roles")
