from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from jindu.core.api import ScopedRelatedField, VersionedModelSerializer
from jindu.core.fields import IdentityNumberSerializerField
from jindu.enforcement.models import Campaign, Case, DriverTest, Gang, ScreeningSession, Seizure, Suspect
from jindu.enforcement.quantities import classify_seizures
from jindu.geo.models import Division
from jindu.org.models import Unit
from jindu.substances.models import Substance


class CampaignSerializer(VersionedModelSerializer):
    division = ScopedRelatedField(Division, label=_("适用区划"))

    class Meta:
        model = Campaign
        fields = ["id", "name", "kind", "level", "division", "start_date", "end_date", "description", "is_demo",
                  "version", "created_at", "updated_at"]
        read_only_fields = ["is_demo", "created_at", "updated_at"]


class CaseSerializer(VersionedModelSerializer):
    division = ScopedRelatedField(Division, label=_("发案区划"))
    handling_unit = ScopedRelatedField(Unit, label=_("办案单位"))
    campaigns = ScopedRelatedField(Campaign, many=True, required=False, label=_("专项行动"))
    linked_cases = ScopedRelatedField(Case, many=True, required=False, label=_("关联案件"))

    class Meta:
        model = Case
        fields = ["id", "number", "name", "kind", "offence", "division", "handling_unit", "handling_level",
                  "filed_on", "solved_on", "transferred_on", "closed_on", "status", "target_level", "campaigns",
                  "linked_cases", "summary", "is_demo", "version", "created_at", "updated_at"]
        read_only_fields = ["is_demo", "created_at", "updated_at"]


class SuspectSerializer(VersionedModelSerializer):
    case = ScopedRelatedField(Case, label=_("案件"))
    id_number = IdentityNumberSerializerField(required=False, division_field="case.division", label=_("身份证号"))
    person = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Suspect
        fields = ["id", "case", "name", "id_number", "gender", "role", "caught_on", "measure", "note", "person",
                  "is_demo", "version", "created_at", "updated_at"]
        read_only_fields = ["is_demo", "created_at", "updated_at"]


class SeizureSerializer(VersionedModelSerializer):
    case = ScopedRelatedField(Case, label=_("案件"))
    suspect = ScopedRelatedField(Suspect, required=False, allow_null=True, label=_("犯罪嫌疑人"))
    substance = serializers.PrimaryKeyRelatedField(queryset=Substance.objects.all(), required=False,
                                                   allow_null=True, label=_("毒品种类"))
    quantity_class = serializers.SerializerMethodField()
    quantity_basis = serializers.SerializerMethodField()
    quantity_derived = serializers.SerializerMethodField()

    class Meta:
        model = Seizure
        fields = ["id", "case", "suspect", "substance", "item_name", "form", "gross_weight_g", "net_weight_g",
                  "tablet_count", "plant_count", "purity_pct", "place", "seized_on", "quantity_class",
                  "quantity_basis", "quantity_derived", "is_demo", "version", "created_at", "updated_at"]
        read_only_fields = ["is_demo", "created_at", "updated_at"]

    def _classification(self, obj):
        cache = self.context.setdefault("_classes", {})
        if obj.pk not in cache:
            cache[obj.pk] = classify_seizures([obj], obj.case.offence)
        return cache[obj.pk]

    def get_quantity_class(self, obj) -> str:
        return str(self._classification(obj).quantity_class)

    def get_quantity_basis(self, obj) -> str:
        return self._classification(obj).basis

    def get_quantity_derived(self, obj) -> bool:
        return self._classification(obj).derived


class GangSerializer(VersionedModelSerializer):
    division = ScopedRelatedField(Division, label=_("活动区划"))
    members = ScopedRelatedField(Suspect, many=True, required=False, label=_("成员"))
    cases = ScopedRelatedField(Case, many=True, required=False, label=_("涉及案件"))

    class Meta:
        model = Gang
        fields = ["id", "name", "division", "cases", "members", "is_broken_up", "broken_up_on", "note", "is_demo",
                  "version", "created_at", "updated_at"]
        read_only_fields = ["is_demo", "created_at", "updated_at"]


class ScreeningSessionSerializer(VersionedModelSerializer):
    unit = ScopedRelatedField(Unit, label=_("检测单位"))
    division = ScopedRelatedField(Division, label=_("所属区划"))
    tested = serializers.SerializerMethodField()
    positive = serializers.SerializerMethodField()

    class Meta:
        model = ScreeningSession
        fields = ["id", "unit", "division", "held_on", "category", "place", "employer", "note", "tested", "positive",
                  "is_demo", "version", "created_at", "updated_at"]
        read_only_fields = ["is_demo", "created_at", "updated_at"]

    def get_tested(self, obj) -> int:
        return getattr(obj, "tested", None) if hasattr(obj, "tested") else obj.tests.count()

    def get_positive(self, obj) -> int:
        return getattr(obj, "positive", None) if hasattr(obj, "positive") else obj.tests.filter(
            result="positive").count()


class DriverTestSerializer(VersionedModelSerializer):
    session = ScopedRelatedField(ScreeningSession, label=_("检测场次"))
    id_number = IdentityNumberSerializerField(required=False, division_field="session.division", label=_("身份证号"))
    person = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = DriverTest
        fields = ["id", "session", "name", "id_number", "licence_number", "result", "substance", "follow_up",
                  "person", "is_demo", "version", "created_at", "updated_at"]
        read_only_fields = ["is_demo", "created_at", "updated_at"]
