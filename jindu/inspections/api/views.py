"""Inspection API, scoped like the pages; every write goes through
:mod:`jindu.inspections.services` (one audit event each).

- ``targets``: CRUD-less deletion (targets are kept; close them with ``status``).
- ``checklists``: read-only; revisions are made on the pages or by services.
- ``inspections``: list/retrieve, ``POST`` records one inspection with its results;
  ``?date_from=&date_to=`` are inclusive local dates (peer case 9).
- ``hazards``: list/retrieve, actions ``rectify`` and ``close``.
"""

from __future__ import annotations

from types import SimpleNamespace

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets  # noqa: F401
from rest_framework.decorators import action
from rest_framework.response import Response

from jindu.core.api import Conflict, ScopedViewSetMixin
from jindu.core.models import StaleEditError
from jindu.core.scope import CHANGE, VIEW
from jindu.core.timeutils import local_today
from jindu.inspections import services
from jindu.inspections.api.serializers import (
    ChecklistTemplateSerializer,
    HazardSerializer,
    InspectionCreateSerializer,
    InspectionSerializer,
    NoteSerializer,
    RectifySerializer,
    TargetSerializer,
)
from jindu.inspections.choices import HazardStatus, TargetKind, TargetStatus
from jindu.inspections.filtersets import InspectionFilterSet, RangeForm
from jindu.inspections.models import ChecklistTemplate, Hazard, Inspection, Target
from jindu.org.api.views import _WithinFilterSet


class _ServiceErrors:
    def handle_exception(self, exc):
        if isinstance(exc, DjangoValidationError):
            exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict")
                                             else {"detail": exc.messages})
        elif isinstance(exc, StaleEditError):
            exc = Conflict(_("该记录已被他人修改（您读取的版本 %(expected)s，当前版本 %(actual)s），请刷新后重试。")
                           % {"expected": exc.expected, "actual": exc.actual})
        return super().handle_exception(exc)


class TargetFilterSet(_WithinFilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=TargetKind.choices)
    status = django_filters.ChoiceFilter(choices=TargetStatus.choices)
    division = django_filters.NumberFilter(field_name="division_id")

    class Meta:
        model = Target
        fields = ["kind", "status", "division", "within"]


class TargetViewSet(_ServiceErrors, ScopedViewSetMixin, viewsets.ModelViewSet):
    """检查对象（娱乐场所、寄递物流网点、易制毒化学品企业）：按管辖范围过滤；修改须带版本号；
    已有检查记录的对象不能删除（改为“已关停”）。"""

    queryset = Target.objects.all()
    serializer_class = TargetSerializer
    filterset_class = TargetFilterSet
    search_fields = ["name", "address", "licence_number"]
    ordering_fields = ["name", "kind", "division__code", "updated_at"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("version", None)
        serializer.instance = services.create_target(user=self.request.user, data=data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        version = data.pop("version", None)
        serializer.instance, _changed = services.update_target(user=self.request.user, target=serializer.instance,
                                                               data=data, expected_version=version)

    def perform_destroy(self, instance):
        from django.db.models import ProtectedError

        try:
            services.delete_target(user=self.request.user, target=instance,
                                   reason=self.request.query_params.get("reason", ""))
        except ProtectedError as exc:
            raise Conflict(_("该检查对象已有检查记录，不能删除；请将经营状态改为“已关停”。")) from exc


class ChecklistTemplateViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """检查清单（各版本，含条目）。``?current=true`` 仅现行版本。"""

    queryset = ChecklistTemplate.objects.prefetch_related("items")
    serializer_class = ChecklistTemplateSerializer
    filterset_fields = ["category", "code", "is_current", "is_default"]
    ordering_fields = ["code", "revision", "category"]


class InspectionViewSet(_ServiceErrors, ScopedViewSetMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """检查记录。``POST`` 登记一次检查（逐项结果，自动计分并生成隐患）；
    ``date_from``/``date_to`` 为含当日的北京时间日期。"""

    queryset = Inspection.objects.select_related("template").prefetch_related("results__item", "units",
                                                                              "inspectors")
    serializer_class = InspectionSerializer
    filterset_class = InspectionFilterSet
    ordering_fields = ["inspected_at", "score_pct"]

    def get_serializer_class(self):
        return InspectionCreateSerializer if self.action == "create" else InspectionSerializer

    @extend_schema(request=InspectionCreateSerializer, responses={201: InspectionSerializer})
    def create(self, request, *args, **kwargs):
        body = InspectionCreateSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        d = body.validated_data
        campaign = None
        if d.get("campaign"):
            campaign = services.campaign_model().objects.restrict(request.user, VIEW).filter(pk=d["campaign"]).first()
            if campaign is None:
                raise exceptions.ValidationError({"campaign": [_("专项行动不存在或不在您的管辖范围内。")]})
        results = {}
        for r in d["results"]:
            if r["item"] in results:
                raise exceptions.ValidationError({"results": [_("条目 %(id)s 重复。") % {"id": r["item"]}]})
            results[r["item"]] = (r["outcome"], r.get("note", ""))
        inspection = services.record_inspection(
            user=request.user, target=d["target"], template=d["template"], inspected_at=d["inspected_at"],
            # Ids only: the service looks them up through the user's scope.
            results=results, units=[SimpleNamespace(pk=i) for i in d.get("units", [])],
            inspectors=[SimpleNamespace(pk=i) for i in d.get("inspectors", [])],
            campaign=campaign, follow_up_of=d.get("follow_up_of"), summary=d.get("summary", ""),
            hazard_deadline=d.get("hazard_deadline"), extra_hazards=d.get("extra_hazards", []),
        )
        out = InspectionSerializer(self.get_queryset_for_view().get(pk=inspection.pk),
                                   context=self.get_serializer_context())
        return Response(out.data, status=status.HTTP_201_CREATED)

    def get_queryset_for_view(self):
        return Inspection.objects.restrict(self.request.user, VIEW)


class HazardFilterSet(_WithinFilterSet):
    within_path = "target__division"
    status = django_filters.ChoiceFilter(choices=HazardStatus.choices)
    target = django_filters.NumberFilter(field_name="target_id")
    inspection = django_filters.NumberFilter(field_name="inspection_id")
    due = django_filters.ChoiceFilter(choices=[("upcoming", "upcoming"), ("due_today", "due_today"),
                                               ("overdue", "overdue")], method="filter_due")
    date_from = django_filters.DateFilter(method="filter_found")
    date_to = django_filters.DateFilter(method="filter_found")

    class Meta:
        model = Hazard
        form = RangeForm
        fields = ["status", "target", "inspection", "due", "date_from", "date_to", "within"]

    def filter_due(self, queryset, name, value):
        today = local_today()
        open_ = queryset.filter(status=HazardStatus.OPEN)
        return {"overdue": open_.filter(deadline__lt=today), "due_today": open_.filter(deadline=today)}.get(
            value, open_.filter(deadline__gt=today))

    def filter_found(self, queryset, name, value):
        from jindu.core.timeutils import date_range_q

        if name == "date_from":
            return queryset.filter(date_range_q("found_at", value, None))
        return queryset.filter(date_range_q("found_at", None, value))


class HazardViewSet(_ServiceErrors, ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """隐患：``rectify`` 登记整改（带版本号），``close`` 复查确认后销号。
    ``due``：upcoming / due_today / overdue（北京时间，期限当天全天为到期，次日零时起逾期）。"""

    queryset = Hazard.objects.all()
    serializer_class = HazardSerializer
    filterset_class = HazardFilterSet
    ordering_fields = ["deadline", "found_at"]
    scope_actions = {"rectify": CHANGE, "close": CHANGE}

    @extend_schema(request=RectifySerializer, responses={200: HazardSerializer})
    @action(detail=True, methods=["post"])
    def rectify(self, request, pk=None):
        hazard = self.get_object()
        body = RectifySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row = services.report_rectification(user=request.user, hazard=hazard, note=body.validated_data["note"],
                                            rectified_at=body.validated_data.get("rectified_at"),
                                            expected_version=body.validated_data["version"])
        return Response(HazardSerializer(row).data)

    @extend_schema(request=NoteSerializer, responses={200: HazardSerializer})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        hazard = self.get_object()
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row = services.close_hazard(user=request.user, hazard=hazard, note=body.validated_data.get("note", ""))
        return Response(HazardSerializer(row).data)
