"""Workforce API: teams, workers (recruitment, caseload assignment, confirmation, leaving),
contracts, training, meetings, appraisals (compute, marks, renewal decision) and the
staffing table — scoped exactly like the pages; every write goes through
:mod:`jindu.workforce.services` (one audit event each; stale edits answer 409).
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from jindu.core.api import AccessLogListMixin, Conflict, ScopedPermission, ScopedViewSetMixin
from jindu.core.models import StaleEditError
from jindu.core.scope import ADD, CHANGE
from jindu.workforce import selectors, services
from jindu.workforce.api.serializers import (
    AppraisalSerializer, AssignSerializer, ComputeSerializer, ContractPeriodSerializer, DecisionSerializer,
    LeaveSerializer, MarksSerializer, MeetingSerializer, TeamSerializer, TrainingRecordSerializer, WorkerSerializer,
)
from jindu.workforce.models import Appraisal, ContractPeriod, Meeting, Team, TrainingRecord, Worker


def _filterset(model_, ids=(), choices=()):
    """A filterset of FK ids (plain numbers: an id outside the scope just matches nothing,
    never "invalid choice", so existence cannot be probed) and choice fields."""
    attrs = {name: django_filters.NumberFilter(field_name=f"{name}_id") for name in ids}
    for name in choices:
        attrs[name] = django_filters.ChoiceFilter(choices=model_._meta.get_field(name).choices)
    attrs["Meta"] = type("Meta", (), {"model": model_, "fields": [*ids, *choices]})
    return type(f"{model_.__name__}FilterSet", (django_filters.FilterSet,), attrs)


class _ServiceErrors:
    """Service errors as API answers: validation 400, stale 409, still referenced 409."""

    def handle_exception(self, exc):
        if isinstance(exc, DjangoValidationError):
            exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else
                                             {"detail": exc.messages})
        elif isinstance(exc, StaleEditError):
            exc = Conflict(_("该记录已被他人修改（您读取的版本 %(expected)s，当前版本 %(actual)s），请刷新后重试。")
                           % {"expected": exc.expected, "actual": exc.actual})
        elif isinstance(exc, ProtectedError):
            exc = Conflict(_("该记录仍被其他记录引用，不能删除。"))
        return super().handle_exception(exc)

    @staticmethod
    def _data(serializer) -> tuple[dict, int | None]:
        data = dict(serializer.validated_data)
        return data, data.pop("version", None)


class TeamViewSet(_ServiceErrors, ScopedViewSetMixin, viewsets.ModelViewSet):
    """社工队伍（大队、中队）。"""

    queryset = Team.objects.select_related("division")
    serializer_class = TeamSerializer
    filterset_class = _filterset(Team, ids=("division", "parent"), choices=("kind",))
    search_fields = ["name"]
    ordering_fields = ["name", "division__code"]

    def perform_create(self, serializer):
        data, _v = self._data(serializer)
        serializer.instance = services.create_team(user=self.request.user, data=data)

    def perform_update(self, serializer):
        data, version = self._data(serializer)
        serializer.instance, _changed = services.update_team(user=self.request.user, team=serializer.instance,
                                                             data=data, expected_version=version)

    def perform_destroy(self, instance):
        if instance.workers.exists() or instance.children.exists():
            raise Conflict(_("队伍仍有社工或下属中队，不能删除；可将其停用。"))
        super().perform_destroy(instance)


class WorkerViewSet(_ServiceErrors, AccessLogListMixin, ScopedViewSetMixin, viewsets.ModelViewSet):
    """禁毒社工。``assign``：分配帮扶对象；``confirm``：转正；``leave``：记录离职。社工记录不删除。"""

    queryset = Worker.objects.select_related("team")
    serializer_class = WorkerSerializer
    filterset_class = _filterset(Worker, ids=("team",), choices=("status", "position"))
    search_fields = ["name"]
    ordering_fields = ["name", "recruited_on", "team__name"]
    scope_actions = {"assign": CHANGE, "confirm": CHANGE, "leave": CHANGE}

    def perform_create(self, serializer):
        data, _v = self._data(serializer)
        ends = data.pop("contract_ends_on", None)
        serializer.instance = services.recruit_worker(user=self.request.user, data=data, contract_ends_on=ends)

    def perform_update(self, serializer):
        data, version = self._data(serializer)
        data.pop("contract_ends_on", None)
        serializer.instance, _changed = services.update_worker(user=self.request.user, worker=serializer.instance,
                                                               data=data, expected_version=version)

    def perform_destroy(self, instance):
        raise Conflict(_("社工记录不能删除；请记录离职。"))

    @extend_schema(request=AssignSerializer, responses={200: dict}, summary="将人员分配给该社工")
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        worker = self.get_object()
        body = AssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ids = body.validated_data["persons"]
        people = list(selectors.caseload_people(request.user).filter(pk__in=ids).select_related("residence_division"))
        missing = sorted(set(ids) - {p.pk for p in people})
        if missing:
            raise exceptions.ValidationError({"persons": [_("人员不存在或不在您的管辖范围内：%(ids)s。")
                                                          % {"ids": "、".join(map(str, missing))}]})
        changed = services.assign_caseload(user=request.user, worker=worker, persons=people,
                                           reason=body.validated_data.get("reason", ""))
        return Response({"changed": changed})

    @extend_schema(request=None, responses={200: WorkerSerializer}, summary="试用期满转正")
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        worker = services.confirm_worker(user=request.user, worker=self.get_object())
        return Response(WorkerSerializer(worker, context=self.get_serializer_context()).data)

    @extend_schema(request=LeaveSerializer, responses={200: WorkerSerializer}, summary="记录离职")
    @action(detail=True, methods=["post"])
    def leave(self, request, pk=None):
        body = LeaveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        worker = services.end_employment(user=request.user, worker=self.get_object(), **body.validated_data)
        return Response(WorkerSerializer(worker, context=self.get_serializer_context()).data)


class ContractPeriodViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """聘用合同（只读；新增合同与续聘决定经社工页面或考核接口）。"""

    queryset = ContractPeriod.objects.all()
    serializer_class = ContractPeriodSerializer
    filterset_class = _filterset(ContractPeriod, ids=("worker",), choices=("decision",))
    ordering_fields = ["starts_on", "ends_on", "renewal_due_on"]


class TrainingRecordViewSet(_ServiceErrors, ScopedViewSetMixin, mixins.CreateModelMixin,
                            viewsets.ReadOnlyModelViewSet):
    """培训记录。"""

    queryset = TrainingRecord.objects.all()
    serializer_class = TrainingRecordSerializer
    filterset_class = _filterset(TrainingRecord, ids=("worker",))
    ordering_fields = ["started_on"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        worker = data.pop("worker")
        serializer.instance = services.record_training(user=self.request.user, worker=worker, data=data)


class MeetingViewSet(_ServiceErrors, ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """例会（大队月例会、中队周例会）及参会人员、纪要。"""

    queryset = Meeting.objects.prefetch_related("attendees")
    serializer_class = MeetingSerializer
    filterset_class = _filterset(Meeting, ids=("team",), choices=("kind",))
    ordering_fields = ["held_on"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        attendees = data.pop("attendees", [])
        serializer.instance = services.record_meeting(user=self.request.user, data=data, attendees=attendees)


class AppraisalViewSet(_ServiceErrors, ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """社工考核。``compute``：按期间计算量化记分；``marks``：主管评分；``decide``：续聘决定。"""

    queryset = Appraisal.objects.all()
    serializer_class = AppraisalSerializer
    filterset_class = _filterset(Appraisal, ids=("worker",), choices=("decision",))
    ordering_fields = ["period_first", "total_score"]
    scope_actions = {"compute": ADD, "marks": CHANGE, "decide": CHANGE}

    @extend_schema(request=ComputeSerializer, responses={201: AppraisalSerializer}, summary="计算考核量化记分")
    @action(detail=False, methods=["post"])
    def compute(self, request):
        body = ComputeSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        worker = selectors.workers_for(request.user, CHANGE).filter(pk=body.validated_data["worker"].pk).first()
        if worker is None:
            raise exceptions.NotFound()
        appraisal = services.compute_appraisal(user=request.user, worker=worker,
                                               period_label=body.validated_data["period_label"])
        return Response(AppraisalSerializer(appraisal).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MarksSerializer, responses={200: AppraisalSerializer}, summary="录入主管评分")
    @action(detail=True, methods=["post"])
    def marks(self, request, pk=None):
        body = MarksSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        appraisal = services.mark_appraisal(user=request.user, appraisal=self.get_object(),
                                            marks=body.validated_data["marks"],
                                            expected_version=body.validated_data["version"])
        return Response(AppraisalSerializer(appraisal).data)

    @extend_schema(request=DecisionSerializer, responses={200: AppraisalSerializer}, summary="作出续聘决定")
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        appraisal = services.decide_renewal(user=request.user, appraisal=self.get_object(),
                                            decision=body.validated_data["decision"],
                                            reason=body.validated_data.get("reason", ""))
        return Response(AppraisalSerializer(appraisal).data)


class StaffingViewSet(viewsets.ViewSet):
    """社工配备测算：各区县、镇街的应配社工（现有吸毒人员 ÷ 30 + 戒断三年未复吸 ÷ 40，先相加后向上取整）与在岗社工。"""

    permission_classes = [ScopedPermission]
    scoped_model = Team

    @extend_schema(responses={200: dict}, summary="社工配备测算表")
    def list(self, request):
        def row(r, towns=None):
            out = {"division": r.division.pk, "code": r.division.code, "name": r.division.name,
                   "current_users": r.current_users, "abstinent": r.abstinent, "load": str(r.load_display),
                   "need": r.need, "in_post": r.in_post, "gap": r.gap}
            if towns is not None:
                out["towns"] = towns
            return out

        rows = selectors.staffing_table(request.user)
        return Response({"results": [row(d, [row(t) for t in d.towns]) for d in rows]})
