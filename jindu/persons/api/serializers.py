"""Serializers of the registry API. Identity numbers go in as typed (normalised by the
model's one validation path) and come out masked per role through
:func:`jindu.core.idnumbers.display_identity_number`, exactly as pages and exports show
them. Everything derived from the timeline is read-only, and a payload that tries to set
it is refused rather than silently ignored."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from jindu.core.api import ScopedRelatedField, VersionedModelSerializer
from jindu.core.fields import IdentityNumberSerializerField, PhoneNumberSerializerField
from jindu.core.idnumbers import mask_identity_number
from jindu.geo.models import Division
from jindu.org.models import Unit
from jindu.persons.models import Contact, DueItem, Event, Person, RiskAssessment
from jindu.substances.models import Substance

#: Person fields derived from the timeline and assessments (``services.recompute_person``).
DERIVED_FIELDS = (
    "status", "status_since", "measure_end_on", "report_due_on", "last_detected_use_on",
    "abstinent_three_years_on", "serious_breach", "tier", "tier_assessed_on", "next_due_on", "derived_on",
)


class _AllDivisionsField(serializers.PrimaryKeyRelatedField):
    """A division anywhere (the household registration of a person is often outside the
    registering town's jurisdiction; divisions are public statistical codes)."""

    def get_queryset(self):
        return Division.objects.all()


class PersonSerializer(VersionedModelSerializer):
    identity_number = IdentityNumberSerializerField(
        document_type=None, division_field="residence_division", label=_("证件号码"))
    phone = PhoneNumberSerializerField(required=False, label=_("联系电话"))
    residence_division = ScopedRelatedField(Division, label=_("居住地（村居）"))
    household_division = _AllDivisionsField(required=False, allow_null=True, label=_("户籍地"))
    registering_unit = ScopedRelatedField(Unit, required=False, allow_null=True, label=_("登记单位"))
    drugs = ScopedRelatedField(Substance, many=True, required=False, label=_("滥用毒品种类"))
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    tier_display = serializers.CharField(source="get_tier_display", read_only=True)
    assigned_worker_name = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = [
            "id", "document_type", "identity_number", "name", "alias", "sex", "birth_date", "phone",
            "household_division", "household_address", "residence_division", "residence_address", "drugs",
            "registered_on", "registering_unit", "holds_driving_licence", "driving_licence_classes",
            "assigned_worker", "assigned_worker_name", "needs_name_check",
            *DERIVED_FIELDS, "status_display", "tier_display",
            "version", "created_at", "updated_at",
        ]
        read_only_fields = ["assigned_worker", "needs_name_check", *DERIVED_FIELDS, "created_at", "updated_at"]
        extra_kwargs = {"registered_on": {"required": False}, "birth_date": {"required": False},
                        "sex": {"required": False}}

    def get_assigned_worker_name(self, obj) -> str:
        worker = obj.assigned_worker
        return (getattr(worker, "full_name", "") or worker.get_username()) if worker else ""

    def _same_as_stored(self, name: str, value) -> bool:
        """Whether a read-only value sent back equals what the client read (a GET body
        sent back unchanged by PUT is no attempt to write it)."""
        stored = self.fields[name].to_representation(getattr(self.instance, name)) \
            if getattr(self.instance, name) is not None else None
        return value == stored or (value in ("", None) and stored in ("", None))

    def validate(self, attrs):
        sent = self.initial_data if hasattr(self.initial_data, "keys") else {}
        read_only = sorted(
            name for name in set(sent) & set(self.Meta.read_only_fields)
            if self.instance is None or not self._same_as_stored(name, sent[name])
        )
        if read_only:
            # Derived fields come from the timeline: refuse instead of silently dropping them.
            raise serializers.ValidationError({
                name: [_("该字段由系统根据事件时间轴计算（或通过专门操作修改），不能直接填写。")] for name in read_only
            })
        if self.instance is not None:
            number = attrs.get("identity_number")
            # A masked number sent back unchanged (read, edit something else, PUT) is no change.
            if number and "*" in number and number == mask_identity_number(self.instance.identity_number):
                attrs.pop("identity_number")
            division = attrs.get("residence_division")
            if division is not None and division.pk != self.instance.residence_division_id:
                raise serializers.ValidationError(
                    {"residence_division": [_("居住地（村居）变更须通过人员转移办理（双方确认后生效）。")]})
        return super().validate(attrs)


class EventSerializer(VersionedModelSerializer):
    person = ScopedRelatedField(Person, label=_("人员"))
    substance = ScopedRelatedField(Substance, required=False, allow_null=True, label=_("检出物质"))
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    is_corrected = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = [
            "id", "person", "kind", "kind_display", "occurred_on", "source", "document_number", "result",
            "substance", "term_months", "days", "approved", "notes", "corrects", "is_corrected", "recorded_by",
            "version", "created_at", "updated_at",
        ]
        read_only_fields = ["corrects", "recorded_by", "created_at", "updated_at"]

    def get_is_corrected(self, obj) -> bool:
        marked = getattr(obj, "corrected_flag", None)
        return bool(marked) if marked is not None else obj.corrections.exists()


class DrugTestSerializer(EventSerializer):
    """A urinalysis or hair test (a timeline event of one of those two kinds)."""

    kind = serializers.ChoiceField(choices=[("urinalysis", _("尿检")), ("hair_test", _("毛发检测"))],
                                   label=_("检测类型"))


class CorrectionSerializer(serializers.Serializer):
    reason = serializers.CharField(label=_("更正理由"), max_length=2000)


class ContactSerializer(VersionedModelSerializer):
    person = ScopedRelatedField(Person, label=_("人员"))
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Contact
        fields = ["id", "person", "kind", "kind_display", "occurred_on", "place", "worker", "notes",
                  "version", "created_at", "updated_at"]
        read_only_fields = ["worker", "created_at", "updated_at"]


class RiskAssessmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = RiskAssessment
        fields = ["id", "person", "assessed_on", "trigger", "instrument_code", "instrument_version", "answers",
                  "item_points", "overrides", "score", "computed_tier", "tier", "override_reason", "assessor",
                  "version", "created_at"]
        read_only_fields = fields


class DueItemSerializer(serializers.ModelSerializer):
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    due_status = serializers.SerializerMethodField()

    class Meta:
        model = DueItem
        fields = ["id", "person", "kind", "kind_display", "due_on", "due_status", "basis"]
        read_only_fields = fields

    def get_due_status(self, obj) -> str:
        from jindu.core.timeutils import due_status

        return due_status(obj.due_on)


class AssignWorkerSerializer(serializers.Serializer):
    worker = serializers.IntegerField(allow_null=True, label=_("责任社工"))
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, label=_("原因"))
