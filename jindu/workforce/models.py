"""Drug-control social workers (禁毒专管员 / 禁毒社工): teams, employment, training, meetings,
appraisal.

The organisation follows the seed's Qiongshan model (禁毒专管员管理"建制"模式): a district
brigade (大队) with a squadron (中队) in each town, workers recruited, trained, supervised,
appraised and renewed or dismissed. A team's ``division`` decides who may see it and its
workers; a worker sees their own record through ``scope_assignee_path`` (``user``).
A worker's caseload is not stored here: it is ``persons.Person.assigned_worker`` (the
worker's user account), written only through ``persons.services.assign_worker``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from jindu.core.fields import PhoneNumberField
from jindu.core.models import VersionedModel
from jindu.core.scope import ScopedManager
from jindu.workforce.choices import (
    LeavingKind, MeetingKind, Position, RenewalDecision, TeamKind, WorkerStatus,
)

USER = settings.AUTH_USER_MODEL


class Team(VersionedModel):
    """A team of drug-control social workers: the district brigade (大队, ``division`` = the
    district) or a town squadron (中队, ``division`` = the town, ``parent`` = the brigade)."""

    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=16, choices=TeamKind.choices)
    parent = models.ForeignKey("self", verbose_name=_("上级队伍"), null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children")
    division = models.ForeignKey("geo.Division", verbose_name=_("所属区划"), on_delete=models.PROTECT,
                                 related_name="+")
    leader = models.ForeignKey("Worker", verbose_name=_("负责人"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    is_active = models.BooleanField(_("有效"), default=True)
    is_demo = models.BooleanField(_("演示数据"), default=False, editable=False)

    history = HistoricalRecords()
    scope_division_path = "division"
    # Social workers (assignment-narrowed grants) see the teams of their jurisdiction.
    scope_assigned_only_sees_jurisdiction = True

    objects = ScopedManager()

    class Meta:
        verbose_name = _("社工队伍")
        verbose_name_plural = _("社工队伍")
        ordering = ["division__code", "kind", "name"]
        constraints = [models.UniqueConstraint(fields=["division", "name"], name="workforce_team_unique_name")]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        from jindu.geo.choices import Level

        errors = {}
        if self.division_id:
            wanted = Level.DISTRICT if self.kind == TeamKind.BRIGADE else Level.TOWN
            if self.division.level != wanted:
                errors["division"] = (_("大队的所属区划须为区县。") if self.kind == TeamKind.BRIGADE
                                      else _("中队的所属区划须为镇街。"))
        if self.kind == TeamKind.BRIGADE and self.parent_id:
            errors["parent"] = _("大队没有上级队伍。")
        if self.kind == TeamKind.SQUADRON and self.parent_id:
            if self.parent.kind != TeamKind.BRIGADE:
                errors["parent"] = _("中队的上级队伍须为大队。")
            elif self.division_id and not self.division.path.startswith(self.parent.division.path):
                errors["parent"] = _("中队所在镇街不属于上级大队所在区县。")
        if self.leader_id and self.pk and self.leader.team_id != self.pk:
            errors["leader"] = _("负责人须为本队伍的社工。")
        if errors:
            raise ValidationError(errors)


class Worker(VersionedModel):
    """A drug-control social worker (禁毒专管员) employed in a team, linked one-to-one to the
    user account they sign in with (the account ``persons.Person.assigned_worker`` points at).

    Employment lifecycle: recruited on ``recruited_on``, on probation until
    ``probation_ends_on`` (``status`` probation), confirmed (in post), contract periods
    (:class:`ContractPeriod`), and leaving (``left_on``, ``leaving_kind``, ``leaving_reason``).
    ``status`` is written by the services, never typed in.
    """

    user = models.OneToOneField(USER, verbose_name=_("用户账号"), on_delete=models.PROTECT,
                                related_name="social_worker")
    name = models.CharField(_("姓名"), max_length=50)
    phone = PhoneNumberField(_("联系电话"), blank=True)
    team = models.ForeignKey(Team, verbose_name=_("所在队伍"), on_delete=models.PROTECT, related_name="workers")
    position = models.CharField(_("职务"), max_length=20, choices=Position.choices, default=Position.WORKER)
    status = models.CharField(_("状态"), max_length=16, choices=WorkerStatus.choices,
                              default=WorkerStatus.PROBATION, editable=False, db_index=True)
    recruited_on = models.DateField(_("招聘入职日期"))
    probation_ends_on = models.DateField(_("试用期满日期"), null=True, blank=True)
    confirmed_on = models.DateField(_("转正日期"), null=True, blank=True, editable=False)
    left_on = models.DateField(_("离职日期"), null=True, blank=True, editable=False)
    leaving_kind = models.CharField(_("离职方式"), max_length=20, choices=LeavingKind.choices, blank=True,
                                    editable=False)
    leaving_reason = models.TextField(_("离职原因"), blank=True, editable=False)
    notes = models.TextField(_("备注"), blank=True)
    is_demo = models.BooleanField(_("演示数据"), default=False, editable=False)

    history = HistoricalRecords()
    scope_division_path = "team__division"
    scope_assignee_path = "user"
    person_name_fields = ("name",)

    objects = ScopedManager()

    class Meta:
        verbose_name = _("禁毒社工")
        verbose_name_plural = _("禁毒社工")
        ordering = ["team__division__code", "team__name", "name", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(probation_ends_on__isnull=True) | Q(probation_ends_on__gte=F("recruited_on")),
                name="workforce_worker_probation_after_recruitment"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def in_post(self) -> bool:
        return self.status in (WorkerStatus.PROBATION, WorkerStatus.IN_POST)


class _WorkerScoped(VersionedModel):
    """Records of one worker, seen where the worker is (and by the worker)."""

    scope_division_path = "worker__team__division"
    scope_assignee_path = "worker__user"

    objects = ScopedManager()

    class Meta:
        abstract = True


class ContractPeriod(_WorkerScoped):
    """One employment contract period of a worker (聘用合同), with the date the renewal
    decision is due (``renewal_due_on``: ``ends_on`` minus the notice days setting) and the
    decision taken (from an :class:`Appraisal`)."""

    worker = models.ForeignKey(Worker, verbose_name=_("社工"), on_delete=models.PROTECT, related_name="contracts")
    starts_on = models.DateField(_("合同开始日期"))
    ends_on = models.DateField(_("合同截止日期"))
    renewal_due_on = models.DateField(_("续聘决定期限"), editable=False)
    decision = models.CharField(_("续聘决定"), max_length=16, choices=RenewalDecision.choices,
                                default=RenewalDecision.PENDING, editable=False)
    decided_on = models.DateField(_("决定日期"), null=True, blank=True, editable=False)
    decided_by = models.ForeignKey(USER, verbose_name=_("决定人"), null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", editable=False)
    note = models.CharField(_("备注"), max_length=255, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("聘用合同")
        verbose_name_plural = _("聘用合同")
        ordering = ["worker", "-starts_on"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=F("starts_on")), name="workforce_contract_ends_after_start"),
            models.UniqueConstraint(fields=["worker", "starts_on"], name="workforce_contract_unique_start"),
        ]

    def __str__(self) -> str:
        return f"{self.worker} {self.starts_on}–{self.ends_on}"


class TrainingRecord(_WorkerScoped):
    """A training course a worker attended, with its hours and certificate (培训记录)."""

    worker = models.ForeignKey(Worker, verbose_name=_("社工"), on_delete=models.PROTECT, related_name="trainings")
    course = models.CharField(_("培训课程"), max_length=200)
    provider = models.CharField(_("培训机构"), max_length=200, blank=True)
    started_on = models.DateField(_("培训日期"))
    duration_h = models.DecimalField(_("学时（小时）"), max_digits=6, decimal_places=1)
    certificate = models.CharField(_("证书名称及编号"), max_length=200, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("培训记录")
        verbose_name_plural = _("培训记录")
        ordering = ["-started_on", "-pk"]
        constraints = [models.CheckConstraint(condition=Q(duration_h__gt=0), name="workforce_training_positive_hours")]

    def __str__(self) -> str:
        return f"{self.course} {self.started_on}"


class Meeting(VersionedModel):
    """A team meeting: the brigade's monthly meeting or a squadron's weekly one, with who
    attended and the minutes."""

    team = models.ForeignKey(Team, verbose_name=_("队伍"), on_delete=models.PROTECT, related_name="meetings")
    kind = models.CharField(_("会议类型"), max_length=20, choices=MeetingKind.choices)
    held_on = models.DateField(_("会议日期"))
    place = models.CharField(_("地点"), max_length=200, blank=True)
    attendees = models.ManyToManyField(Worker, verbose_name=_("参会人员"), blank=True, related_name="meetings")
    minutes = models.TextField(_("会议纪要"), blank=True)
    recorded_by = models.ForeignKey(USER, verbose_name=_("记录人"), null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", editable=False)

    history = HistoricalRecords(m2m_fields=[attendees])
    scope_division_path = "team__division"
    scope_assigned_only_sees_jurisdiction = True

    objects = ScopedManager()

    class Meta:
        verbose_name = _("例会")
        verbose_name_plural = _("例会")
        ordering = ["-held_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.team} {self.get_kind_display()} {self.held_on}"

    def clean(self):
        if self.team_id and self.kind:
            wanted = TeamKind.BRIGADE if self.kind == MeetingKind.MONTHLY_BRIGADE else TeamKind.SQUADRON
            if self.team.kind != wanted:
                raise ValidationError({"kind": _("大队月例会须由大队召开，中队周例会须由中队召开。")})


class Appraisal(_WorkerScoped):
    """A worker's appraisal for one period (考核): the scorecard computed from the case work
    (``scorecard``, ``computed_score``), the supervisor's marks, the total, and the
    renewal decision it supports. Scores are points (``Decimal``) out of 100."""

    worker = models.ForeignKey(Worker, verbose_name=_("社工"), on_delete=models.PROTECT, related_name="appraisals")
    period_label = models.CharField(_("考核期间"), max_length=20)
    period_first = models.DateField(_("期间开始"))
    period_last = models.DateField(_("期间结束"))
    scorecard = models.JSONField(_("工作量化记分"), default=dict, editable=False)
    computed_score = models.DecimalField(_("量化得分"), max_digits=5, decimal_places=2, editable=False)
    supervisor_marks = models.JSONField(_("主管评分"), default=dict, editable=False)
    supervisor_score = models.DecimalField(_("主管评分合计"), max_digits=5, decimal_places=2, null=True, blank=True,
                                           editable=False)
    total_score = models.DecimalField(_("总分"), max_digits=5, decimal_places=2, null=True, blank=True, editable=False)
    decision = models.CharField(_("续聘决定"), max_length=16, choices=RenewalDecision.choices,
                                default=RenewalDecision.PENDING, editable=False)
    decision_reason = models.TextField(_("决定理由"), blank=True, editable=False)
    contract = models.ForeignKey(ContractPeriod, verbose_name=_("对应合同"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="appraisals", editable=False)
    computed_by = models.ForeignKey(USER, verbose_name=_("计算人"), null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", editable=False)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("社工考核")
        verbose_name_plural = _("社工考核")
        ordering = ["-period_first", "worker"]
        constraints = [
            models.UniqueConstraint(fields=["worker", "period_label"], name="workforce_appraisal_unique_period"),
            models.CheckConstraint(condition=Q(period_last__gte=F("period_first")),
                                   name="workforce_appraisal_period_order"),
        ]

    def __str__(self) -> str:
        return f"{self.worker} {self.period_label}"
