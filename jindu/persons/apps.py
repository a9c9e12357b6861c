from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PersonsConfig(AppConfig):
    name = "jindu.persons"
    label = "persons"
    verbose_name = _("吸毒人员管控")
