"""Registry API: people, their timeline events (and the tests among them), contacts, risk
assessments and due items — scoped exactly like the pages.

- Every write goes through :mod:`jindu.persons.services` (the functions pages and imports
  call), so each leaves one audit event and re-checks scope; a stale edit answers 409 and
  a second registration of the same identity number answers 409 too.
- Every list page and detail answer writes an access-log row
  (:class:`jindu.core.api.AccessLogListMixin`); a list with ``search`` is logged as a search.
- ``search`` finds people by name or alias (contained) or by identity number in any
  accepted form (15/18 digits, full-width, lower-case x), through the keyed blind index —
  the encrypted number itself is never compared. Other document numbers are found too.
- Filters that name a division, a worker or a substance only ever narrow the user's own
  scope; an unknown parameter (``scope=all``) is refused with 400 (peer case 12).
- Timeline records are never deleted or edited: a wrong one is voided through
  ``POST /api/events/<id>/correct/`` with a reason.
"""

from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from jindu.core.api import (
    AccessLogListMixin, Conflict, MultiIdFilter, SafeOrderingFilter, SafeSearchFilter, ScopedViewSetMixin,
)
from jindu.core.idnumbers import DocumentType, IdentityNumberError
from jindu.core.models import StaleEditError
from jindu.core.scope import CHANGE, VIEW
from jindu.core.text import normalize_name
from jindu.core.timeutils import date_range_q, local_today
from jindu.geo.models import Division
from jindu.persons import services
from jindu.persons.api.serializers import (
    AssignWorkerSerializer, ContactSerializer, CorrectionSerializer, DueItemSerializer, EventSerializer,
    PersonSerializer, RiskAssessmentSerializer, DrugTestSerializer,
)
from jindu.persons.choices import ContactKind, DueKind, EventKind, EventSource, Status, TestResult, Tier
from jindu.persons.models import Contact, DueItem, Event, Person, RiskAssessment
from jindu.persons.services import casework

TEST_KINDS = (EventKind.URINALYSIS, EventKind.HAIR_TEST)


# -- search and filters -------------------------------------------------------------------

def person_search_q(term: str, prefix: str = "") -> Q:
    """People whose name or alias contains ``term`` (normalised like stored names:
    "张　测试" finds 张测试) or whose document number equals it in any accepted form, through
    the blind index (the list page's :func:`jindu.persons.filtersets.identity_search_q`).
    ``prefix`` leads from another model to the person (``"person__"``).

    Raises DRF ``ValidationError`` for a term shaped like a resident identity number that is
    not a valid one: the answer says what is wrong instead of "no match"."""
    from jindu.persons.filtersets import identity_search_q

    term = (term or "").strip()
    if not term:
        return Q()
    name = normalize_name(term)
    q = Q(**{f"{prefix}name__icontains": name}) | Q(**{f"{prefix}alias__icontains": name})
    try:
        by_number = identity_search_q(term)
    except IdentityNumberError as exc:
        raise exceptions.ValidationError({"search": [exc.messages[0]]}) from None
    if by_number is not None:
        q |= Q(**{f"{prefix}pk__in": Person.objects.filter(by_number).values("pk")}) if prefix else by_number
    return q


class PersonSearchFilter(SafeSearchFilter):
    """``?search=``: name/alias or identity number (see :func:`person_search_q`); the whole
    term is one query (a name is not split on spaces)."""

    def filter_queryset(self, request, queryset, view):
        term = request.query_params.get(self.search_param, "")
        if not term.strip():
            return queryset
        return queryset.filter(person_search_q(term, getattr(view, "person_prefix", "")))


def _within_scope_division(request, value):
    """The path of division ``value`` if the user may see it, else ``None``."""
    user = getattr(request, "user", None)
    return Division.objects.restrict(user, VIEW).filter(pk=value).values_list("path", flat=True).first()


class _DateRangeMixin:
    """``date_from``/``date_to``: inclusive local dates on ``date_field`` (a DateField of
    local dates, so 2024-03-01 is March whatever the database session's time zone)."""

    date_field = "occurred_on"

    def filter_date_from(self, queryset, name, value):
        return queryset.filter(date_range_q(self.date_field, value, None, date_field=True))

    def filter_date_to(self, queryset, name, value):
        return queryset.filter(date_range_q(self.date_field, None, value, date_field=True))


class PersonFilterSet(django_filters.FilterSet):
    """Filters of the person list (API and export). ``division``: the residence lies in
    that division's subtree — a division outside the user's scope gives an empty list."""

    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    tier = django_filters.MultipleChoiceFilter(choices=Tier.choices)
    drug = MultiIdFilter(field_name="drugs")
    division = django_filters.NumberFilter(method="filter_division")
    worker = MultiIdFilter(field_name="assigned_worker")
    document_type = django_filters.ChoiceFilter(choices=DocumentType.choices)
    registered_from = django_filters.DateFilter(field_name="registered_on", lookup_expr="gte")
    registered_to = django_filters.DateFilter(field_name="registered_on", lookup_expr="lte")
    needs_name_check = django_filters.BooleanFilter()
    serious_breach = django_filters.BooleanFilter()

    class Meta:
        model = Person
        fields = ["status", "tier", "drug", "division", "worker", "document_type", "registered_from",
                  "registered_to", "needs_name_check", "serious_breach"]

    def filter_division(self, queryset, name, value):
        root = _within_scope_division(self.request, value)
        if root is None:
            return queryset.none()
        return queryset.filter(residence_division__path__startswith=root)


class _PersonRecordFilterSet(_DateRangeMixin, django_filters.FilterSet):
    person = django_filters.NumberFilter(field_name="person_id")
    date_from = django_filters.DateFilter(method="filter_date_from")
    date_to = django_filters.DateFilter(method="filter_date_to")
    division = django_filters.NumberFilter(method="filter_division")

    def filter_division(self, queryset, name, value):
        root = _within_scope_division(self.request, value)
        if root is None:
            return queryset.none()
        return queryset.filter(person__residence_division__path__startswith=root)


class EventFilterSet(_PersonRecordFilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=EventKind.choices)
    source = django_filters.ChoiceFilter(choices=EventSource.choices)

    class Meta:
        model = Event
        fields = ["person", "kind", "source", "date_from", "date_to", "division"]


class DrugTestFilterSet(_PersonRecordFilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=[(k.value, k.label) for k in TEST_KINDS])
    result = django_filters.MultipleChoiceFilter(choices=TestResult.choices)

    class Meta:
        model = Event
        fields = ["person", "kind", "result", "date_from", "date_to", "division"]


class ContactFilterSet(_PersonRecordFilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=ContactKind.choices)
    worker = django_filters.NumberFilter(field_name="worker_id")

    class Meta:
        model = Contact
        fields = ["person", "kind", "worker", "date_from", "date_to", "division"]


class AssessmentFilterSet(_PersonRecordFilterSet):
    date_field = "assessed_on"
    tier = django_filters.MultipleChoiceFilter(choices=Tier.choices)

    class Meta:
        model = RiskAssessment
        fields = ["person", "tier", "date_from", "date_to", "division"]


class DueItemFilterSet(_PersonRecordFilterSet):
    date_field = "due_on"
    kind = django_filters.MultipleChoiceFilter(choices=DueKind.choices)
    worker = django_filters.NumberFilter(field_name="person__assigned_worker_id")
    due_status = django_filters.ChoiceFilter(
        choices=[("overdue", gettext_lazy("已逾期")), ("due_today", gettext_lazy("今日到期")),
                 ("upcoming", gettext_lazy("未到期"))],
        method="filter_due_status")

    class Meta:
        model = DueItem
        fields = ["person", "kind", "worker", "date_from", "date_to", "division", "due_status"]

    def filter_due_status(self, queryset, name, value):
        # Local date: due all of that day, overdue from local midnight (DESIGN.md "Time").
        today = local_today()
        return queryset.filter(**{"overdue": {"due_on__lt": today}, "due_today": {"due_on": today},
                                  "upcoming": {"due_on__gt": today}}[value])


# -- error answers ----------------------------------------------------------------------------

class _ServiceErrorsMixin:
    """Service errors as API answers: duplicate registration and stale edits are 409."""

    def handle_exception(self, exc):
        if isinstance(exc, services.DuplicatePersonError):
            exc = Conflict(exc.messages[0] if exc.messages else None)
        elif isinstance(exc, StaleEditError):
            exc = Conflict(
                _("该记录已被他人修改（您读取的版本 %(expected)s，当前版本 %(actual)s），请刷新后重试。")
                % {"expected": exc.expected, "actual": exc.actual})
        return super().handle_exception(exc)

    @staticmethod
    def _data(serializer) -> tuple[dict, int | None]:
        data = dict(serializer.validated_data)
        return data, data.pop("version", None)


class _Logged(_ServiceErrorsMixin, ScopedViewSetMixin, AccessLogListMixin):
    """Scoped, strict about parameters, every read access-logged; ``search`` is the person
    search. Put before DRF's list/retrieve mixins (so the logging wraps them)."""

    filter_backends = [DjangoFilterBackend, PersonSearchFilter, SafeOrderingFilter]


class Refused(exceptions.APIException):
    """405 with the registry's reason (records are corrected, never edited or deleted)."""

    status_code = status.HTTP_405_METHOD_NOT_ALLOWED
    default_code = "method_not_allowed"


class _RefuseMixin:
    """Edits and deletions that the registry never allows answer 405 with the reason — but
    only for rows the user could otherwise reach: out of scope stays 404, like a missing row."""

    refuse_message = ""

    def _refuse(self, request):
        self.get_object()
        raise Refused(str(self.refuse_message))


# -- people ------------------------------------------------------------------------------------

class PersonViewSet(_RefuseMixin, _Logged, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                    mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """吸毒人员：列表、详情、登记、修改（须带版本号，过期修改返回 409）。身份证号按角色脱敏；
    状态、风险等级等由事件时间轴推算，只读。人员不会被删除。``assign``：指定责任社工。"""

    queryset = Person.objects.select_related("residence_division", "assigned_worker").prefetch_related("drugs")
    serializer_class = PersonSerializer
    filterset_class = PersonFilterSet
    search_fields = ["name", "alias"]  # plus identity numbers via the blind index (PersonSearchFilter)
    ordering_fields = ["name", "registered_on", "status", "tier", "next_due_on", "updated_at"]
    scope_actions = {"assign": CHANGE}
    refuse_message = gettext_lazy("吸毒人员记录不能删除：错误的记录请更正，重复登记请提出合并。")

    def destroy(self, request, *args, **kwargs):
        self._refuse(request)

    def perform_create(self, serializer):
        data, _version = self._data(serializer)
        drugs = data.pop("drugs", [])
        person = services.register_person(user=self.request.user, data=data, drugs=drugs)
        serializer.instance = self.queryset.get(pk=person.pk)

    def perform_update(self, serializer):
        data, version = self._data(serializer)
        drugs = data.pop("drugs", None)
        person, _changed = services.update_person(
            user=self.request.user, person=serializer.instance, data=data, expected_version=version, drugs=drugs)
        serializer.instance = self.queryset.get(pk=person.pk)

    @extend_schema(request=AssignWorkerSerializer, responses={200: PersonSerializer}, summary="指定责任社工")
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        person = self.get_object()
        body = AssignWorkerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        worker = None
        if body.validated_data["worker"] is not None:
            from jindu.persons.forms import workers_for

            # The same choice as the page's: social workers of the person's place (or above).
            worker = workers_for(request.user, person.residence_division).filter(
                pk=body.validated_data["worker"]).first()
            if worker is None:
                raise exceptions.ValidationError({"worker": [_("该用户不是该人员所在地的禁毒社工，或不在您的管辖范围内。")]})
        services.assign_worker(user=request.user, persons=[person], worker=worker,
                               reason=body.validated_data.get("reason", ""))
        fresh = self.queryset.get(pk=person.pk)
        return Response(self.get_serializer(fresh).data)


# -- timeline ----------------------------------------------------------------------------------

def _with_corrected_flag(queryset):
    return queryset.annotate(corrected_flag=Exists(Event.objects.filter(corrects=OuterRef("pk"))))


class _AppendOnlyMixin(_RefuseMixin):
    refuse_message = gettext_lazy("时间轴记录不能修改或删除：错误的记录请通过“更正”（correct）作废并说明理由。")

    def update(self, request, *args, **kwargs):
        self._refuse(request)

    def partial_update(self, request, *args, **kwargs):
        self._refuse(request)

    def destroy(self, request, *args, **kwargs):
        self._refuse(request)


class EventViewSet(_AppendOnlyMixin, _Logged, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                   viewsets.GenericViewSet):
    """人员事件（时间轴）：列表、详情、新增。记录不可修改或删除；错误记录通过 ``correct`` 更正（须填写理由）。"""

    queryset = _with_corrected_flag(Event.objects.select_related("person"))
    serializer_class = EventSerializer
    filterset_class = EventFilterSet
    person_prefix = "person__"
    search_fields = ["person__name"]
    ordering_fields = ["occurred_on", "kind", "created_at"]
    scope_actions = {"correct": CHANGE}

    def perform_create(self, serializer):
        data, _version = self._data(serializer)
        person = data.pop("person")
        if data.get("kind") == EventKind.CORRECTION:
            raise exceptions.ValidationError({"kind": [_("更正错误记录请使用“更正”操作（correct），并说明理由。")]})
        event = services.add_event(user=self.request.user, person=person, data=data)
        serializer.instance = self.get_queryset_for_answer().get(pk=event.pk)

    def get_queryset_for_answer(self):
        return _with_corrected_flag(Event.objects.select_related("person"))

    @extend_schema(request=CorrectionSerializer, responses={201: EventSerializer}, summary="更正错误记录")
    @action(detail=True, methods=["post"])
    def correct(self, request, pk=None):
        event = self.get_object()
        body = CorrectionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        correction = services.correct_event(user=request.user, event=event, reason=body.validated_data["reason"])
        fresh = self.get_queryset_for_answer().get(pk=correction.pk)
        return Response(EventSerializer(fresh, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)


class DrugTestViewSet(_AppendOnlyMixin, _Logged, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      mixins.CreateModelMixin, viewsets.GenericViewSet):
    """尿检与毛发检测（时间轴中的检测事件）：列表、详情、录入。更正请使用人员事件的 ``correct``。"""

    queryset = _with_corrected_flag(Event.objects.filter(kind__in=TEST_KINDS).select_related("person"))
    serializer_class = DrugTestSerializer
    filterset_class = DrugTestFilterSet
    person_prefix = "person__"
    search_fields = ["person__name"]
    ordering_fields = ["occurred_on", "kind", "result", "created_at"]

    def perform_create(self, serializer):
        data, _version = self._data(serializer)
        person = data.pop("person")
        event = casework.record_test(user=self.request.user, person=person, data=data)
        serializer.instance = self.queryset.get(pk=event.pk)


class ContactViewSet(_Logged, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     viewsets.GenericViewSet):
    """联系记录（谈话、家访、电话、视频、民警见面）：列表、详情、录入。"""

    queryset = Contact.objects.select_related("person", "worker")
    serializer_class = ContactSerializer
    filterset_class = ContactFilterSet
    person_prefix = "person__"
    search_fields = ["person__name"]
    ordering_fields = ["occurred_on", "kind", "created_at"]

    def perform_create(self, serializer):
        data, _version = self._data(serializer)
        person = data.pop("person")
        contact = casework.record_contact(user=self.request.user, person=person, data=data)
        serializer.instance = self.queryset.get(pk=contact.pk)


class RiskAssessmentViewSet(_Logged, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """风险评估记录（只读；评估在人员页面进行）。"""

    queryset = RiskAssessment.objects.select_related("person")
    serializer_class = RiskAssessmentSerializer
    filterset_class = AssessmentFilterSet
    person_prefix = "person__"
    search_fields = ["person__name"]
    ordering_fields = ["assessed_on", "tier", "score"]


class DueItemViewSet(_Logged, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """待办事项（只读，由系统按风险等级与管控措施计算）。``due_status``：overdue / due_today / upcoming（本地日期）。"""

    queryset = DueItem.objects.select_related("person")
    serializer_class = DueItemSerializer
    filterset_class = DueItemFilterSet
    person_prefix = "person__"
    search_fields = ["person__name"]
    ordering_fields = ["due_on", "kind"]
