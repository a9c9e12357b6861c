from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from jindu.core.api import ScopedRelatedField, VersionedModelSerializer
from jindu.core.fields import PhoneNumberSerializerField
from jindu.geo.choices import Level
from jindu.geo.models import Division
from jindu.org.models import CommissionMembership, Pairing, Unit


class UnitSerializer(VersionedModelSerializer):
    division = ScopedRelatedField(Division, label=_("所属区划"))
    jurisdiction = ScopedRelatedField(Division, many=True, required=False, label=_("服务区域"))
    parent = ScopedRelatedField(Unit, required=False, allow_null=True, label=_("上级单位"))
    # Normalised on input, so what is compared, audited and answered is the stored form.
    phone = PhoneNumberSerializerField(required=False, label=_("联系电话"))

    class Meta:
        model = Unit
        fields = [
            "id", "name", "short_name", "kind", "division", "jurisdiction", "parent", "head_name", "head_title",
            "phone", "address", "is_active", "is_demo", "version", "created_at", "updated_at",
        ]
        read_only_fields = ["is_demo", "created_at", "updated_at"]


class CommissionMembershipSerializer(VersionedModelSerializer):
    unit = ScopedRelatedField(Unit, label=_("单位"))

    class Meta:
        model = CommissionMembership
        fields = ["id", "unit", "year", "role", "version", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class PairingSerializer(VersionedModelSerializer):
    unit = ScopedRelatedField(Unit, label=_("挂点单位"))
    town = ScopedRelatedField(Division, label=_("挂点镇街"))

    class Meta:
        model = Pairing
        fields = ["id", "unit", "town", "year", "note", "version", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def validate_town(self, town):
        if town.level != Level.TOWN:
            raise serializers.ValidationError(_("挂点对象必须是镇街。"))
        return town
