"""The registry of people who use drugs (吸毒人员) and their case work.

A :class:`Person` lives in the village of residence (``residence_division``), which decides
jurisdiction; social workers see the people assigned to them. Everything that happens to a
person is an :class:`Event` on the timeline; the control status, the end of the measure and
the date of "abstinent three years" are *derived* from the timeline by ``persons.rules`` and
cached on the person by ``services.recompute_person`` — never typed in. Case work (contacts,
plans, help given, risk assessments) has its own records; what is due next is kept in
:class:`DueItem` rows so worklists are one indexed query.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from jindu.core.fields import BlindIndexField, IdentityNumberField, PhoneNumberField
from jindu.core.idnumbers import DocumentType
from jindu.core.models import VersionedModel
from jindu.core.scope import VIEW, ScopedManager
from jindu.persons.choices import (
    AccessStatus, AssistanceKind, ContactKind, DueKind, EventKind, EventSource, HandoverStatus, ProposalStatus,
    ScreeningOutcome, Sex, Status, TestResult, Tier, TransferStatus,
)

USER = settings.AUTH_USER_MODEL


def temporary_access_q(user, action: str, prefix: str = "") -> Q | None:
    """Rows reachable through an approved, unexpired temporary access of ``user``
    (read only). ``prefix`` is the lookup path from the model to the person (``"person__"``)."""
    if action != VIEW or user is None or not getattr(user, "is_authenticated", False):
        return None
    from django.utils import timezone

    granted = TemporaryAccess.objects.filter(
        user=user, status=AccessStatus.APPROVED, expires_at__gt=timezone.now()).values("person_id")
    return Q(**{f"{prefix}pk__in" if not prefix else f"{prefix}in": granted})


class Person(VersionedModel):
    """A person registered as using drugs (吸毒人员), one row per identity document.

    Identity: ``identity_number`` (encrypted; ``identity_number_digest`` is the keyed blind index with
    a database unique constraint, so a person is registered once per normalised number, and
    15-digit numbers match their 18-digit form). Birth date and sex come from a resident
    identity number when there is one. ``residence_division`` (the village of residence)
    decides jurisdiction; ``assigned_worker`` is the drug-control social worker in charge.

    The ``status`` … ``next_due_on`` block is derived (``services.recompute_person``).
    """

    document_type = models.CharField(_("证件类型"), max_length=32, choices=DocumentType.choices,
                                     default=DocumentType.RESIDENT_ID)
    identity_number = IdentityNumberField(_("证件号码"), document_type_field="document_type")
    identity_number_digest = BlindIndexField(source="identity_number")
    name = models.CharField(_("姓名"), max_length=100)
    alias = models.CharField(_("曾用名或绰号"), max_length=100, blank=True)
    sex = models.CharField(_("性别"), max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    phone = PhoneNumberField(_("联系电话"), blank=True)
    # No index: nothing lists people by household or registering unit (deleting a division
    # or unit, which their PROTECT guards, reads the table instead).
    household_division = models.ForeignKey(
        "geo.Division", verbose_name=_("户籍地"), null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False)
    household_address = models.CharField(_("户籍地址"), max_length=255, blank=True)
    residence_division = models.ForeignKey(
        "geo.Division", verbose_name=_("居住地（村居）"), on_delete=models.PROTECT, related_name="residents")
    residence_address = models.CharField(_("居住地址"), max_length=255, blank=True)
    drugs = models.ManyToManyField("substances.Substance", verbose_name=_("滥用毒品种类"), blank=True,
                                   related_name="+")
    # Indexed by persons_worker_due_idx (assigned_worker, next_due_on), whose prefix it is.
    assigned_worker = models.ForeignKey(
        USER, verbose_name=_("责任社工"), null=True, blank=True, on_delete=models.SET_NULL, related_name="caseload",
        db_index=False)
    registered_on = models.DateField(_("登记日期"))
    registering_unit = models.ForeignKey(
        "org.Unit", verbose_name=_("登记单位"), null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False)
    needs_name_check = models.BooleanField(
        _("姓名需人工核对"), default=False,
        help_text=_("姓名含私用区字符（U+E000–U+F8FF），可能是自造字，需要人工核对。"))
    holds_driving_licence = models.BooleanField(_("持有机动车驾驶证"), default=False)
    driving_licence_classes = models.CharField(_("准驾车型"), max_length=50, blank=True)
    licence_cancelled_on = models.DateField(_("驾驶证注销日期"), null=True, blank=True)
    is_demo = models.BooleanField(_("演示数据"), default=False, editable=False)
    # Set when a city user merges this record into another (services.merge): every record of
    # this person then belongs to ``merged_into``; this row stays (nothing is deleted) but is
    # no longer a person of its own — lists and statistics exclude it.
    merged_into = models.ForeignKey(
        "self", verbose_name=_("已合并至"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="merged_duplicates", editable=False, db_index=False)

    # Derived from the timeline and assessments (services.recompute_person); never edited.
    status = models.CharField(_("管控状态"), max_length=32, choices=Status.choices,
                              default=Status.CURRENT_NO_MEASURE, editable=False, db_index=True)
    status_since = models.DateField(_("状态起始日期"), null=True, blank=True, editable=False)
    measure_end_on = models.DateField(_("措施期满日期"), null=True, blank=True, editable=False)
    report_due_on = models.DateField(_("报到期限"), null=True, blank=True, editable=False)
    last_detected_use_on = models.DateField(_("最近发现吸毒日期"), null=True, blank=True, editable=False)
    abstinent_three_years_on = models.DateField(_("满三年未复吸日期"), null=True, blank=True, editable=False)
    serious_breach = models.BooleanField(_("严重违反协议"), default=False, editable=False)
    tier = models.CharField(_("风险等级"), max_length=2, choices=Tier.choices, blank=True, editable=False,
                            db_index=True)
    tier_assessed_on = models.DateField(_("最近评估日期"), null=True, blank=True, editable=False)
    next_due_on = models.DateField(_("最近待办日期"), null=True, blank=True, editable=False)
    derived_on = models.DateField(_("状态计算日期"), null=True, blank=True, editable=False)

    # The derived block is a cache of what the timeline says, rewritten after every event and
    # nightly: keeping it out of the row history keeps the history about what people did.
    # The history is read by record (``id``) and date, never by its foreign keys: those go
    # unindexed there (each index is written for every row of an import).
    history = HistoricalRecords(excluded_fields=[
        "status", "status_since", "measure_end_on", "report_due_on", "last_detected_use_on",
        "abstinent_three_years_on", "serious_breach", "tier", "tier_assessed_on", "next_due_on", "derived_on"],
        no_db_index=["household_division", "residence_division", "assigned_worker", "registering_unit",
                     "merged_into"])
    scope_division_path = "residence_division"
    scope_assignee_path = "assigned_worker"
    person_name_fields = ("name", "alias")

    objects = ScopedManager()

    class Meta:
        verbose_name = _("吸毒人员")
        verbose_name_plural = _("吸毒人员")
        ordering = ["-registered_on", "-pk"]
        permissions = [
            ("decide_merge", _("决定疑似重复人员合并")),
            ("approve_temporary_access", _("审批临时查阅权限")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["identity_number_digest"], name="persons_person_unique_identity"),
        ]
        indexes = [
            models.Index(fields=["assigned_worker", "next_due_on"], name="persons_worker_due_idx"),
            models.Index(fields=["name", "birth_date"], name="persons_name_birth_idx"),
            models.Index(fields=["phone"], name="persons_phone_idx"),
            # Only the merged shells: "merged_into IS NULL" (every live person) must not be
            # answered through an index, which SQLite would otherwise pick for it and read
            # the whole registry where a name, phone or village index finds a few rows.
            models.Index(fields=["merged_into"], condition=models.Q(merged_into__isnull=False),
                         name="persons_merged_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def scope_extra_q(cls, user, action):
        return temporary_access_q(user, action)


class PersonScoped(VersionedModel):
    """Base of records that belong to one person and share the person's scope."""

    scope_division_path = "person__residence_division"
    scope_assignee_path = "person__assigned_worker"

    objects = ScopedManager()

    class Meta:
        abstract = True

    @classmethod
    def scope_extra_q(cls, user, action):
        return temporary_access_q(user, action, "person__")


class Event(PersonScoped):
    """One thing that happened to a person, dated when it happened (``occurred_on``), with
    where the record came from. The rules module derives the status from these. A wrong
    record is never deleted: a ``correction`` event names it in ``corrects`` and the rules
    ignore it from then on.

    Kind-specific columns: ``result`` and ``substance`` for tests; ``term_months`` for orders
    with a stated term and extensions; ``days`` and ``approved`` for leaving the county;
    ``document_number`` for decisions and orders (决定书编号).
    """

    # Indexed by persons_event_date_idx (person, occurred_on), whose prefix it is.
    person = models.ForeignKey(Person, verbose_name=_("人员"), on_delete=models.PROTECT, related_name="events",
                               db_index=False)
    kind = models.CharField(_("事件类型"), max_length=32, choices=EventKind.choices)
    occurred_on = models.DateField(_("发生日期"))
    source = models.CharField(_("信息来源"), max_length=20, choices=EventSource.choices, default=EventSource.TOWN)
    document_number = models.CharField(_("文书编号"), max_length=100, blank=True)
    result = models.CharField(_("检测结果"), max_length=10, choices=TestResult.choices, blank=True)
    substance = models.ForeignKey("substances.Substance", verbose_name=_("检出物质"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    term_months = models.PositiveSmallIntegerField(_("期限（月）"), null=True, blank=True)
    days = models.PositiveSmallIntegerField(_("天数"), null=True, blank=True)
    approved = models.BooleanField(_("已批准（报告）"), null=True, blank=True)
    corrects = models.ForeignKey("self", verbose_name=_("更正的记录"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="corrections")
    notes = models.TextField(_("备注"), blank=True)
    recorded_by = models.ForeignKey(USER, verbose_name=_("录入人"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")

    history = HistoricalRecords(no_db_index=["person", "substance", "corrects", "recorded_by"])

    class Meta:
        verbose_name = _("人员事件")
        verbose_name_plural = _("人员事件")
        ordering = ["-occurred_on", "-pk"]
        indexes = [models.Index(fields=["person", "occurred_on"], name="persons_event_date_idx"),
                   models.Index(fields=["kind", "occurred_on"], name="persons_event_kind_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_on}"


class Contact(PersonScoped):
    """A contact of the case work: interview, home visit, phone or video call, police meeting."""

    person = models.ForeignKey(Person, verbose_name=_("人员"), on_delete=models.PROTECT, related_name="contacts")
    kind = models.CharField(_("联系方式"), max_length=20, choices=ContactKind.choices)
    occurred_on = models.DateField(_("日期"))
    place = models.CharField(_("地点"), max_length=200, blank=True)
    worker = models.ForeignKey(USER, verbose_name=_("工作人员"), null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    notes = models.TextField(_("情况记录"), blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("联系记录")
        verbose_name_plural = _("联系记录")
        ordering = ["-occurred_on", "-pk"]
        indexes = [models.Index(fields=["person", "occurred_on"], name="persons_contact_date_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_on}"


class CasePlan(PersonScoped):
    """The individual plan of "one person, one file, one plan" (一人一档一策): goals,
    measures, the responsible worker and the date of the next review."""

    person = models.ForeignKey(Person, verbose_name=_("人员"), on_delete=models.PROTECT, related_name="plans")
    goals = models.TextField(_("帮扶目标"))
    measures = models.TextField(_("管控与帮扶措施"))
    responsible_worker = models.ForeignKey(USER, verbose_name=_("责任人"), null=True, blank=True,
                                           on_delete=models.SET_NULL, related_name="+")
    starts_on = models.DateField(_("制定日期"))
    review_on = models.DateField(_("回顾日期"))
    is_active = models.BooleanField(_("有效"), default=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("帮扶计划")
        verbose_name_plural = _("帮扶计划")
        ordering = ["-starts_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.person} {self.starts_on}"


class Assistance(PersonScoped):
    """Help given to a person (帮扶救助): care, training, start-up grant, job placement,
    farming guidance … each one person-time in the statistics; ``job_found`` counts jobs."""

    person = models.ForeignKey(Person, verbose_name=_("人员"), on_delete=models.PROTECT, related_name="assistance")
    kind = models.CharField(_("帮扶类型"), max_length=20, choices=AssistanceKind.choices)
    given_on = models.DateField(_("日期"))
    amount_yuan = models.DecimalField(_("金额（元）"), max_digits=12, decimal_places=2, null=True, blank=True)
    job_found = models.BooleanField(_("实现就业"), default=False)
    provider = models.ForeignKey("org.Unit", verbose_name=_("帮扶单位"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    description = models.TextField(_("情况说明"), blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("帮扶救助")
        verbose_name_plural = _("帮扶救助")
        ordering = ["-given_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.given_on}"


class RiskAssessment(PersonScoped):
    """One risk assessment (风险评估) with the instrument version, answers and points, the
    computed tier and the final tier. A final tier different from the computed one is a
    manual override and needs ``override_reason`` (audited)."""

    person = models.ForeignKey(Person, verbose_name=_("人员"), on_delete=models.PROTECT,
                               related_name="assessments")
    assessed_on = models.DateField(_("评估日期"))
    trigger = models.CharField(_("评估原因"), max_length=40, blank=True)
    instrument_code = models.CharField(_("评估量表"), max_length=50)
    instrument_version = models.CharField(_("量表版本"), max_length=20)
    answers = models.JSONField(_("评估选项"), default=dict)
    item_points = models.JSONField(_("各项得分"), default=dict)
    overrides = models.JSONField(_("直接定为高风险的情形"), default=list)
    score = models.PositiveSmallIntegerField(_("总分"))
    computed_tier = models.CharField(_("计算等级"), max_length=2, choices=Tier.choices)
    tier = models.CharField(_("评定等级"), max_length=2, choices=Tier.choices)
    override_reason = models.TextField(_("人工调整理由"), blank=True)
    assessor = models.ForeignKey(USER, verbose_name=_("评估人"), null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("风险评估")
        verbose_name_plural = _("风险评估")
        ordering = ["-assessed_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.person} {self.assessed_on} {self.tier}"


class DueItem(PersonScoped):
    """What is due next for a person, one row per kind (``DueKind``), as computed by the
    schedule; rewritten by ``services.recompute_person`` after every change and nightly."""

    # Indexed by persons_dueitem_unique_kind (person, kind), whose prefix it is.
    person = models.ForeignKey(Person, verbose_name=_("人员"), on_delete=models.CASCADE, related_name="due_items",
                               db_index=False)
    kind = models.CharField(_("待办类型"), max_length=20, choices=DueKind.choices)
    due_on = models.DateField(_("期限"))
    basis = models.CharField(_("依据"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("待办事项")
        verbose_name_plural = _("待办事项")
        ordering = ["due_on", "kind"]
        constraints = [models.UniqueConstraint(fields=["person", "kind"], name="persons_dueitem_unique_kind")]
        indexes = [models.Index(fields=["due_on"], name="persons_dueitem_due_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.due_on}"


class Handover(PersonScoped):
    """Seamless handover (无缝衔接) of a person released from compulsory isolation to the town
    of residence: release notice (≥ 3 days ahead, JDTL 34) → pickup → reporting within
    15 days (JDTL 38) → agreement signed (JDTL 16/38)."""

    person = models.ForeignKey(Person, verbose_name=_("人员"), on_delete=models.PROTECT, related_name="handovers")
    facility = models.CharField(_("戒毒场所"), max_length=200, blank=True)
    notice_received_on = models.DateField(_("收到出所通知日期"))
    expected_release_on = models.DateField(_("预计出所日期"))
    released_on = models.DateField(_("实际出所日期"), null=True, blank=True)
    received_on = models.DateField(_("接回日期"), null=True, blank=True)
    reported_on = models.DateField(_("报到日期"), null=True, blank=True)
    agreement_signed_on = models.DateField(_("签订协议日期"), null=True, blank=True)
    status = models.CharField(_("衔接状态"), max_length=20, choices=HandoverStatus.choices,
                              default=HandoverStatus.NOTIFIED)
    notes = models.TextField(_("备注"), blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("出所衔接")
        verbose_name_plural = _("出所衔接")
        ordering = ["-expected_release_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.person} {self.expected_release_on}"


class Transfer(VersionedModel):
    """A move of a person's file to another village/town (JDTL 22): both sides see it; the
    person leaves the old scope only when the receiving side accepts."""

    person = models.ForeignKey(Person, verbose_name=_("人员"), on_delete=models.PROTECT, related_name="transfers")
    from_division = models.ForeignKey("geo.Division", verbose_name=_("原居住地"), on_delete=models.PROTECT,
                                      related_name="+")
    to_division = models.ForeignKey("geo.Division", verbose_name=_("新居住地"), on_delete=models.PROTECT,
                                    related_name="+")
    new_address = models.CharField(_("新居住地址"), max_length=255, blank=True)
    reason = models.TextField(_("原因"))
    requested_on = models.DateField(_("申请日期"))
    requested_by = models.ForeignKey(USER, verbose_name=_("申请人"), null=True, on_delete=models.SET_NULL,
                                     related_name="+")
    status = models.CharField(_("状态"), max_length=20, choices=TransferStatus.choices, default=TransferStatus.PENDING)
    decided_on = models.DateField(_("处理日期"), null=True, blank=True)
    decided_by = models.ForeignKey(USER, verbose_name=_("处理人"), null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decision_note = models.TextField(_("处理意见"), blank=True)

    history = HistoricalRecords()
    # The receiving side sees the transfer through ``to_division``; the sending side sees it
    # through the person (scope_extra_q).
    scope_division_path = "to_division"

    objects = ScopedManager()

    class Meta:
        verbose_name = _("人员转移")
        verbose_name_plural = _("人员转移")
        ordering = ["-requested_on", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["person"], condition=Q(status=TransferStatus.PENDING),
                                    name="persons_transfer_one_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.person} → {self.to_division}"

    @classmethod
    def scope_extra_q(cls, user, action):
        from jindu.core.scope import scope_q

        sending = scope_q(Person, user, action)
        if sending is None:
            return None
        return Q(person__in=Person.objects.filter(sending).values("pk")) if sending else Q()


class ScreeningRound(VersionedModel):
    """A rolling screening round (滚动排查) of one town: the people to verify, each with an
    outcome that updates the timeline."""

    division = models.ForeignKey("geo.Division", verbose_name=_("排查镇街"), on_delete=models.PROTECT,
                                 related_name="+")
    title = models.CharField(_("名称"), max_length=100)
    opened_on = models.DateField(_("开始日期"))
    due_on = models.DateField(_("完成期限"))
    closed_on = models.DateField(_("完成日期"), null=True, blank=True)

    history = HistoricalRecords()
    scope_division_path = "division"
    scope_assigned_only_sees_jurisdiction = True

    objects = ScopedManager()

    class Meta:
        verbose_name = _("滚动排查")
        verbose_name_plural = _("滚动排查")
        ordering = ["-opened_on", "-pk"]

    def __str__(self) -> str:
        return self.title


class ScreeningResult(VersionedModel):
    """The verification of one person in a screening round (or a newly found person,
    recorded with the name and identity number until registered)."""

    round = models.ForeignKey(ScreeningRound, verbose_name=_("排查"), on_delete=models.CASCADE,
                              related_name="results")
    person = models.ForeignKey(Person, verbose_name=_("人员"), null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    outcome = models.CharField(_("核查结果"), max_length=20, choices=ScreeningOutcome.choices, blank=True)
    checked_on = models.DateField(_("核查日期"), null=True, blank=True)
    notes = models.TextField(_("说明"), blank=True)
    event = models.OneToOneField(Event, verbose_name=_("生成的事件"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")

    history = HistoricalRecords()
    scope_division_path = "round__division"

    objects = ScopedManager()

    class Meta:
        verbose_name = _("排查结果")
        verbose_name_plural = _("排查结果")
        ordering = ["round", "pk"]
        constraints = [models.UniqueConstraint(fields=["round", "person"], name="persons_screening_unique_person")]


class MergeProposal(VersionedModel):
    """A suspected duplicate (same name and birth date, or same normalised phone) proposed
    for merging into ``keep``; a city user decides. A merge moves every record of
    ``duplicate`` to ``keep`` and is audited; nothing is deleted."""

    keep = models.ForeignKey(Person, verbose_name=_("保留人员"), on_delete=models.PROTECT, related_name="+")
    duplicate = models.ForeignKey(Person, verbose_name=_("疑似重复人员"), on_delete=models.PROTECT,
                                  related_name="+")
    reasons = models.JSONField(_("疑似理由"), default=list)
    status = models.CharField(_("状态"), max_length=20, choices=ProposalStatus.choices,
                              default=ProposalStatus.PENDING)
    decided_by = models.ForeignKey(USER, verbose_name=_("决定人"), null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_on = models.DateField(_("决定日期"), null=True, blank=True)
    decision_reason = models.TextField(_("决定理由"), blank=True)

    history = HistoricalRecords()
    scope_division_path = "keep__residence_division"

    objects = ScopedManager()

    class Meta:
        verbose_name = _("疑似重复人员")
        verbose_name_plural = _("疑似重复人员")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["keep", "duplicate"], name="persons_merge_unique_pair"),
            models.CheckConstraint(condition=~Q(keep=models.F("duplicate")), name="persons_merge_distinct"),
        ]


class TemporaryAccess(VersionedModel):
    """A worker's request to read a person outside their scope, with a reason; a supervisor
    approves; access expires at ``expires_at``. Every use is access-logged as usual."""

    person = models.ForeignKey(Person, verbose_name=_("人员"), on_delete=models.CASCADE,
                               related_name="temporary_accesses")
    user = models.ForeignKey(USER, verbose_name=_("申请人"), on_delete=models.CASCADE, related_name="+")
    reason = models.TextField(_("申请理由"))
    status = models.CharField(_("状态"), max_length=20, choices=AccessStatus.choices, default=AccessStatus.PENDING)
    decided_by = models.ForeignKey(USER, verbose_name=_("审批人"), null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    expires_at = models.DateTimeField(_("到期时间"), null=True, blank=True)

    history = HistoricalRecords()
    scope_division_path = "person__residence_division"

    objects = ScopedManager()

    @classmethod
    def scope_extra_q(cls, user, action):
        # The requester is outside the person's scope by definition: they read their own
        # requests (status, expiry), nothing else (services.access).
        if action != VIEW or user is None or not getattr(user, "is_authenticated", False):
            return None
        return Q(user=user)

    class Meta:
        verbose_name = _("临时查阅权限")
        verbose_name_plural = _("临时查阅权限")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "status", "expires_at"], name="persons_tmpaccess_idx")]
