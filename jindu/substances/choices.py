from django.db import models
from django.utils.translation import gettext_lazy as _


class ControlList(models.TextChoices):
    """The lists of the 2025 reform of the narcotic and psychotropic catalogues
    (《麻醉药品和精神药品管理条例》 as revised in January 2025, art. 3)."""

    MEDICINAL_NARCOTIC = "medicinal_narcotic", _("药用类麻醉药品")
    MEDICINAL_PSYCHOTROPIC_I = "medicinal_psychotropic_I", _("药用类第一类精神药品")
    MEDICINAL_PSYCHOTROPIC_II = "medicinal_psychotropic_II", _("药用类第二类精神药品")
    NON_MEDICINAL = "non_medicinal", _("非药用类麻醉药品和精神药品")
    NON_MEDICINAL_CLASS = "non_medicinal_class", _("非药用类整类列管物质")
