from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "jindu.core"
    label = "core"
    verbose_name = _("核心")
