"""Choices of the social-worker workforce: teams, positions, employment, meetings, renewal."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TeamKind(models.TextChoices):
    """The Qiongshan "建制" model: a district brigade with a squadron in each town."""

    BRIGADE = "brigade", _("大队（区）")
    SQUADRON = "squadron", _("中队（镇街）")


class Position(models.TextChoices):
    BRIGADE_LEADER = "brigade_leader", _("大队长")
    DEPUTY_LEADER = "deputy_leader", _("副大队长")
    SQUADRON_LEADER = "squadron_leader", _("中队长")
    WORKER = "worker", _("禁毒专管员")


class WorkerStatus(models.TextChoices):
    PROBATION = "probation", _("试用期")
    IN_POST = "in_post", _("在岗")
    LEFT = "left", _("已离职")


#: Statuses counted as "in post" by staffing and eligible for a caseload.
IN_POST_STATUSES = (WorkerStatus.PROBATION, WorkerStatus.IN_POST)


class LeavingKind(models.TextChoices):
    RESIGNED = "resigned", _("辞职")
    DISMISSED = "dismissed", _("辞退")
    CONTRACT_ENDED = "contract_ended", _("合同期满不再续聘")
    OTHER = "other", _("其他")


class MeetingKind(models.TextChoices):
    MONTHLY_BRIGADE = "monthly_brigade", _("大队月例会")
    WEEKLY_SQUADRON = "weekly_squadron", _("中队周例会")


class RenewalDecision(models.TextChoices):
    PENDING = "pending", _("待定")
    RENEW = "renew", _("续聘")
    NOT_RENEW = "not_renew", _("不续聘")
