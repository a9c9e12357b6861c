from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from jindu.core.api import ScopedRelatedField, VersionedModelSerializer
from jindu.core.fields import PhoneNumberSerializerField
from jindu.geo.models import Division
from jindu.inspections.choices import ItemOutcome
from jindu.inspections.models import ChecklistItem, ChecklistTemplate, Hazard, Inspection, ItemResult, Target


class TargetSerializer(VersionedModelSerializer):
    division = ScopedRelatedField(Division, label=_("所属区划"))
    operator_phone = PhoneNumberSerializerField(required=False, label=_("负责人电话"))
    colour = serializers.CharField(read_only=True, required=False, label=_("四色状态"))

    class Meta:
        model = Target
        fields = [
            "id", "kind", "name", "division", "address", "longitude", "latitude", "licence_number",
            "operator_name", "operator_phone", "status", "note", "source_model", "source_key", "is_demo",
            "colour", "version", "created_at", "updated_at",
        ]
        read_only_fields = ["source_model", "source_key", "is_demo", "created_at", "updated_at"]


class ChecklistItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChecklistItem
        fields = ["id", "seq", "code", "text", "points", "required", "basis"]


class ChecklistTemplateSerializer(serializers.ModelSerializer):
    items = ChecklistItemSerializer(many=True, read_only=True)

    class Meta:
        model = ChecklistTemplate
        fields = ["id", "code", "revision", "name", "category", "source", "description", "pass_score_pct",
                  "rectification_days", "is_current", "is_default", "is_builtin", "supersedes", "revision_note",
                  "items", "version", "created_at"]
        read_only_fields = fields


class ItemResultSerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="item.code", read_only=True)

    class Meta:
        model = ItemResult
        fields = ["item", "code", "outcome", "note"]
        read_only_fields = fields


class InspectionSerializer(serializers.ModelSerializer):
    results = ItemResultSerializer(many=True, read_only=True)
    template_code = serializers.CharField(source="template.code", read_only=True)

    class Meta:
        model = Inspection
        fields = ["id", "target", "template", "template_code", "inspected_at", "units", "inspectors", "campaign",
                  "follow_up_of", "summary", "passed", "score_pct", "items_passed", "items_failed", "items_na",
                  "required_failed", "closed_at", "results", "version", "created_at"]
        read_only_fields = fields


class ResultInputSerializer(serializers.Serializer):
    item = serializers.IntegerField(label=_("检查条目"))
    outcome = serializers.ChoiceField(choices=ItemOutcome.choices, label=_("结果"))
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, label=_("说明"))


class InspectionCreateSerializer(serializers.Serializer):
    """Body of ``POST /api/inspections/``: recorded through
    :func:`jindu.inspections.services.record_inspection`."""

    target = ScopedRelatedField(Target, label=_("检查对象"))
    template = serializers.PrimaryKeyRelatedField(queryset=ChecklistTemplate.objects.filter(is_current=True),
                                                  label=_("检查清单"))
    inspected_at = serializers.DateTimeField(label=_("检查时间"))
    results = ResultInputSerializer(many=True, label=_("逐项结果"))
    units = serializers.ListField(child=serializers.IntegerField(), required=False, label=_("检查单位"))
    inspectors = serializers.ListField(child=serializers.IntegerField(), required=False, label=_("检查人员"))
    campaign = serializers.IntegerField(required=False, allow_null=True, label=_("专项行动"))
    follow_up_of = ScopedRelatedField(Inspection, required=False, allow_null=True, label=_("复查的检查"))
    summary = serializers.CharField(required=False, allow_blank=True, label=_("检查情况"))
    hazard_deadline = serializers.DateField(required=False, allow_null=True, label=_("整改期限"))
    extra_hazards = serializers.ListField(child=serializers.CharField(), required=False, label=_("其他隐患"))


class HazardSerializer(serializers.ModelSerializer):
    due = serializers.CharField(read_only=True, allow_null=True, label=_("期限状态"))

    class Meta:
        model = Hazard
        fields = ["id", "target", "inspection", "item", "description", "found_at", "deadline", "due", "status",
                  "rectified_at", "rectification_note", "verified_by", "verified_at", "closed_at", "closing_note",
                  "version", "created_at"]
        read_only_fields = fields


class RectifySerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, label=_("版本"))
    note = serializers.CharField(label=_("整改情况"))
    rectified_at = serializers.DateTimeField(required=False, allow_null=True, label=_("整改完成时间"))


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=500, label=_("说明"))
