from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from jindu.core.api import ScopedRelatedField, VersionedModelSerializer
from jindu.core.fields import PhoneNumberSerializerField
from jindu.geo.models import Division
from jindu.workforce.choices import LeavingKind, RenewalDecision
from jindu.workforce.models import Appraisal, ContractPeriod, Meeting, Team, TrainingRecord, Worker


class TeamSerializer(VersionedModelSerializer):
    parent = ScopedRelatedField(Team, required=False, allow_null=True, label=_("上级队伍"))
    division = ScopedRelatedField(Division, label=_("所属区划"))
    leader = ScopedRelatedField(Worker, required=False, allow_null=True, label=_("负责人"))

    class Meta:
        model = Team
        fields = ["id", "name", "kind", "parent", "division", "leader", "is_active", "is_demo", "version",
                  "created_at", "updated_at"]
        read_only_fields = ["is_demo", "created_at", "updated_at"]


class WorkerSerializer(VersionedModelSerializer):
    user = ScopedRelatedField(get_user_model(), label=_("用户账号"))
    team = ScopedRelatedField(Team, label=_("所在队伍"))
    phone = PhoneNumberSerializerField(required=False, label=_("联系电话"))
    contract_ends_on = serializers.DateField(required=False, write_only=True, label=_("首个合同截止日期"))

    class Meta:
        model = Worker
        fields = ["id", "user", "name", "phone", "team", "position", "status", "recruited_on", "probation_ends_on",
                  "confirmed_on", "left_on", "leaving_kind", "leaving_reason", "notes", "is_demo", "contract_ends_on",
                  "version", "created_at", "updated_at"]
        read_only_fields = ["status", "confirmed_on", "left_on", "leaving_kind", "leaving_reason", "is_demo",
                            "created_at", "updated_at"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:  # the account and the recruitment date are fixed once recorded
            fields["user"].read_only = True
            fields["recruited_on"].read_only = True
        return fields


class ContractPeriodSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContractPeriod
        fields = ["id", "worker", "starts_on", "ends_on", "renewal_due_on", "decision", "decided_on", "decided_by",
                  "note", "version", "created_at", "updated_at"]
        read_only_fields = fields


class TrainingRecordSerializer(serializers.ModelSerializer):
    worker = ScopedRelatedField(Worker, label=_("社工"))

    class Meta:
        model = TrainingRecord
        fields = ["id", "worker", "course", "provider", "started_on", "duration_h", "certificate", "version",
                  "created_at", "updated_at"]
        read_only_fields = ["version", "created_at", "updated_at"]


class MeetingSerializer(serializers.ModelSerializer):
    team = ScopedRelatedField(Team, label=_("队伍"))
    attendees = ScopedRelatedField(Worker, many=True, required=False, label=_("参会人员"))

    class Meta:
        model = Meeting
        fields = ["id", "team", "kind", "held_on", "place", "attendees", "minutes", "recorded_by", "version",
                  "created_at", "updated_at"]
        read_only_fields = ["recorded_by", "version", "created_at", "updated_at"]


class AppraisalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Appraisal
        fields = ["id", "worker", "period_label", "period_first", "period_last", "scorecard", "computed_score",
                  "supervisor_marks", "supervisor_score", "total_score", "decision", "decision_reason", "contract",
                  "version", "created_at", "updated_at"]
        read_only_fields = fields


class AssignSerializer(serializers.Serializer):
    persons = serializers.ListField(child=serializers.IntegerField(), min_length=1, label=_("人员"))
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class LeaveSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=LeavingKind.choices, label=_("离职方式"))
    on = serializers.DateField(label=_("离职日期"))
    reason = serializers.CharField(max_length=1000, label=_("离职原因"))


class ComputeSerializer(serializers.Serializer):
    worker = ScopedRelatedField(Worker, label=_("社工"))
    period_label = serializers.CharField(max_length=20, label=_("考核期间"))


class MarksSerializer(serializers.Serializer):
    marks = serializers.DictField(child=serializers.DecimalField(max_digits=4, decimal_places=1), label=_("主管评分"))
    version = serializers.IntegerField(min_value=1)


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[RenewalDecision.RENEW, RenewalDecision.NOT_RENEW], label=_("续聘决定"))
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)
