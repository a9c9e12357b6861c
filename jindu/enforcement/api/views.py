"""Enforcement API: campaigns, cases, suspects, seizures, gangs, drug-driving screenings.

Scoped like the pages; every write goes through :mod:`jindu.enforcement.services` (one
audit event each, versioned edits: stale → 409). Suspect and driver-test lists are
personal data: each list and detail writes an access-log row; identity numbers are masked
unless the role may see them.
"""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Q
from django.utils.translation import gettext as _
from rest_framework import exceptions, viewsets

from jindu.core.api import AccessLogListMixin, Conflict, ScopedViewSetMixin
from jindu.core.models import StaleEditError
from jindu.enforcement import services
from jindu.enforcement.api.serializers import (
    CampaignSerializer,
    CaseSerializer,
    DriverTestSerializer,
    GangSerializer,
    ScreeningSessionSerializer,
    SeizureSerializer,
    SuspectSerializer,
)
from jindu.enforcement.choices import CaseKind, CaseStatus, Offence, TargetLevel
from jindu.enforcement.models import Campaign, Case, DriverTest, Gang, ScreeningSession, Seizure, Suspect
from jindu.org.api.views import _WithinFilterSet


class _ServiceWrites:
    def handle_exception(self, exc):
        if isinstance(exc, DjangoValidationError):
            exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else
                                             {"detail": exc.messages})
        elif isinstance(exc, StaleEditError):
            exc = Conflict(_("该记录已被他人修改（您读取的版本 %(expected)s，当前版本 %(actual)s），请刷新后重试。")
                           % {"expected": exc.expected, "actual": exc.actual})
        return super().handle_exception(exc)

    @staticmethod
    def _data(serializer):
        data = dict(serializer.validated_data)
        return data, data.pop("version", None)

    def perform_destroy(self, instance):
        # Deletion only where a service offers it; the row is fetched through the DELETE
        # scope first, so an out-of-scope row still answers 404.
        raise exceptions.MethodNotAllowed("DELETE")

    def _reason(self) -> str:
        value = self.request.query_params.get("reason")
        if value is None and hasattr(self.request.data, "get"):
            value = self.request.data.get("reason")
        return (value or "").strip()


class CampaignFilterSet(_WithinFilterSet):
    class Meta:
        model = Campaign
        fields = ["kind", "level", "within"]


class CampaignViewSet(_ServiceWrites, ScopedViewSetMixin, viewsets.ModelViewSet):
    """专项行动（春夏攻势、秋冬攻势、清源断流、集群打零…）。"""

    queryset = Campaign.objects.select_related("division")
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilterSet
    search_fields = ["name"]
    ordering_fields = ["start_date", "name"]

    def perform_create(self, serializer):
        data, _v = self._data(serializer)
        serializer.instance = services.create_campaign(user=self.request.user, data=data)

    def perform_update(self, serializer):
        data, version = self._data(serializer)
        serializer.instance, _c = services.update_campaign(user=self.request.user, campaign=serializer.instance,
                                                           data=data, expected_version=version)


class CaseFilterSet(_WithinFilterSet):
    kind = django_filters.ChoiceFilter(choices=CaseKind.choices)
    offence = django_filters.ChoiceFilter(choices=Offence.choices)
    status = django_filters.ChoiceFilter(choices=CaseStatus.choices)
    target_level = django_filters.ChoiceFilter(choices=[c for c in TargetLevel.choices if c[0]])
    campaign = django_filters.NumberFilter(method="filter_campaign")
    filed_on = django_filters.DateFromToRangeFilter()
    solved_on = django_filters.DateFromToRangeFilter()

    class Meta:
        model = Case
        fields = ["kind", "offence", "status", "target_level", "campaign", "filed_on", "solved_on", "within"]

    def filter_campaign(self, queryset, name, value):
        return queryset.filter(pk__in=Case.campaigns.through.objects.filter(campaign_id=value).values("case_id"))


class CaseViewSet(_ServiceWrites, ScopedViewSetMixin, viewsets.ModelViewSet):
    """毒品案件：增删改查；修改须带版本号，状态按流程流转；删除须说明原因（``reason``）。"""

    queryset = Case.objects.select_related("division", "handling_unit").prefetch_related("campaigns", "linked_cases")
    serializer_class = CaseSerializer
    filterset_class = CaseFilterSet
    search_fields = ["number", "name"]
    ordering_fields = ["filed_on", "solved_on", "number"]

    def perform_create(self, serializer):
        data, _v = self._data(serializer)
        campaigns = data.pop("campaigns", [])
        linked = data.pop("linked_cases", [])
        serializer.instance = services.create_case(user=self.request.user, data=data, campaigns=campaigns,
                                                   linked_cases=linked)

    def perform_update(self, serializer):
        data, version = self._data(serializer)
        campaigns = data.pop("campaigns", None)
        linked = data.pop("linked_cases", None)
        case, _c = services.update_case(user=self.request.user, case=serializer.instance, data=data,
                                        expected_version=version, campaigns=campaigns, linked_cases=linked)
        serializer.instance = self.queryset.get(pk=case.pk)

    def perform_destroy(self, instance):
        services.delete_case(user=self.request.user, case=instance, reason=self._reason())


class SuspectFilterSet(_WithinFilterSet):
    within_path = "case__division"
    case = django_filters.NumberFilter(field_name="case_id")

    class Meta:
        model = Suspect
        fields = ["case", "role", "within"]


class SuspectViewSet(_ServiceWrites, AccessLogListMixin, ScopedViewSetMixin, viewsets.ModelViewSet):
    """犯罪嫌疑人（个人信息：身份证号按权限脱敏，访问留痕）。"""

    queryset = Suspect.objects.select_related("case__division")
    serializer_class = SuspectSerializer
    filterset_class = SuspectFilterSet
    search_fields = ["name"]
    ordering_fields = ["caught_on", "name"]

    def perform_create(self, serializer):
        data, _v = self._data(serializer)
        case = data.pop("case")
        serializer.instance = services.create_suspect(user=self.request.user, case=case, data=data)

    def perform_update(self, serializer):
        data, version = self._data(serializer)
        if "case" in data and data.pop("case").pk != serializer.instance.case_id:
            raise exceptions.ValidationError({"case": [_("犯罪嫌疑人不能改到其他案件。")]})
        serializer.instance, _c = services.update_suspect(user=self.request.user, suspect=serializer.instance,
                                                          data=data, expected_version=version)


class SeizureFilterSet(_WithinFilterSet):
    within_path = "case__division"
    case = django_filters.NumberFilter(field_name="case_id")
    substance = django_filters.NumberFilter(field_name="substance_id")
    seized_on = django_filters.DateFromToRangeFilter()

    class Meta:
        model = Seizure
        fields = ["case", "substance", "form", "seized_on", "within"]


class SeizureViewSet(_ServiceWrites, ScopedViewSetMixin, viewsets.ModelViewSet):
    """毒品缴获；每条返回数量等级（quantity_class）及法律依据（quantity_basis）。"""

    queryset = Seizure.objects.select_related("case__division", "substance", "suspect")
    serializer_class = SeizureSerializer
    filterset_class = SeizureFilterSet
    ordering_fields = ["seized_on", "net_weight_g"]

    def perform_create(self, serializer):
        data, _v = self._data(serializer)
        case = data.pop("case")
        serializer.instance = services.create_seizure(user=self.request.user, case=case, data=data)

    def perform_update(self, serializer):
        data, version = self._data(serializer)
        if "case" in data and data.pop("case").pk != serializer.instance.case_id:
            raise exceptions.ValidationError({"case": [_("缴获记录不能改到其他案件。")]})
        serializer.instance, _c = services.update_seizure(user=self.request.user, seizure=serializer.instance,
                                                          data=data, expected_version=version)

    def perform_destroy(self, instance):
        services.delete_seizure(user=self.request.user, seizure=instance, reason=self._reason())


class GangFilterSet(_WithinFilterSet):
    class Meta:
        model = Gang
        fields = ["is_broken_up", "within"]


class GangViewSet(_ServiceWrites, ScopedViewSetMixin, viewsets.ModelViewSet):
    """贩毒团伙及成员；已打掉须填写打掉日期。"""

    queryset = Gang.objects.select_related("division").prefetch_related("members", "cases")
    serializer_class = GangSerializer
    filterset_class = GangFilterSet
    search_fields = ["name"]
    ordering_fields = ["broken_up_on", "name"]

    def perform_create(self, serializer):
        data, _v = self._data(serializer)
        members = data.pop("members", [])
        cases = data.pop("cases", [])
        serializer.instance = services.create_gang(user=self.request.user, data=data, members=members, cases=cases)

    def perform_update(self, serializer):
        data, version = self._data(serializer)
        members = data.pop("members", None)
        data.pop("cases", None)
        gang, _c = services.update_gang(user=self.request.user, gang=serializer.instance, data=data,
                                        expected_version=version, members=members)
        serializer.instance = self.queryset.get(pk=gang.pk)


class ScreeningFilterSet(_WithinFilterSet):
    held_on = django_filters.DateFromToRangeFilter()

    class Meta:
        model = ScreeningSession
        fields = ["category", "held_on", "within"]


class ScreeningSessionViewSet(_ServiceWrites, ScopedViewSetMixin, viewsets.ModelViewSet):
    """毒驾检测场次（重点驾驶员）。"""

    queryset = ScreeningSession.objects.select_related("unit", "division").annotate(
        tested=Count("tests"), positive=Count("tests", filter=Q(tests__result="positive")))
    serializer_class = ScreeningSessionSerializer
    filterset_class = ScreeningFilterSet
    ordering_fields = ["held_on"]

    def perform_create(self, serializer):
        data, _v = self._data(serializer)
        serializer.instance = services.create_screening_session(user=self.request.user, data=data)

    def perform_update(self, serializer):
        data, version = self._data(serializer)
        session, _c = services.update_screening_session(user=self.request.user, session=serializer.instance,
                                                        data=data, expected_version=version)
        serializer.instance = self.queryset.get(pk=session.pk)


class DriverTestFilterSet(_WithinFilterSet):
    within_path = "session__division"
    session = django_filters.NumberFilter(field_name="session_id")

    class Meta:
        model = DriverTest
        fields = ["session", "result", "within"]


class DriverTestViewSet(_ServiceWrites, AccessLogListMixin, ScopedViewSetMixin, viewsets.ModelViewSet):
    """驾驶员检测结果（个人信息）；阳性结果关联在册人员。只可新增与查询。"""

    queryset = DriverTest.objects.select_related("session__division")
    serializer_class = DriverTestSerializer
    filterset_class = DriverTestFilterSet
    ordering_fields = ["id"]
    http_method_names = ["get", "post", "head", "options"]

    def perform_create(self, serializer):
        data, _v = self._data(serializer)
        session = data.pop("session")
        serializer.instance = services.record_driver_test(user=self.request.user, session=session, data=data)
