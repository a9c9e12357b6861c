from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "jindu.core"
    label = "core"
    verbose_name = _("核心")

    def ready(self):
        from rest_framework.serializers import ModelSerializer

        from jindu.core.fields import IdentityNumberField, IdentityNumberSerializerField

        # A serializer that lists an identity-number field without declaring it still masks it.
        ModelSerializer.serializer_field_mapping[IdentityNumberField] = IdentityNumberSerializerField
