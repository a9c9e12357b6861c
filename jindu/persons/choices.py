"""Choices of the registry: timeline event kinds, derived statuses, risk tiers, case work."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Sex(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")
    UNKNOWN = "U", _("未知")


class EventKind(models.TextChoices):
    """What can happen to a person; the status is derived from these (``persons.rules``).

    Details each kind may carry (``Event`` columns) are listed in ``rules.py``.
    """

    FOUND_USING = "found_using", _("查获吸毒")
    COMMUNITY_REHAB_ORDER = "community_drug_rehab_order", _("责令社区戒毒")
    ISOLATION_DECISION = "isolation_decision", _("决定强制隔离戒毒")
    COMMUNITY_RECOVERY_ORDER = "community_rehab_order", _("责令社区康复")
    REPORTED = "reported", _("报到")
    AGREEMENT_SIGNED = "agreement_signed", _("签订协议")
    ADMISSION = "admission", _("入所")
    EXTENSION = "extension", _("延长强制隔离戒毒期限")
    EARLY_RELEASE = "early_release", _("提前解除强制隔离戒毒")
    ESCAPE = "escape", _("脱逃")
    RECAPTURE = "recapture", _("脱逃后收回")
    RELEASE = "release", _("解除强制隔离戒毒（出所）")
    MEASURE_COMPLETED = "measure_completed", _("社区戒毒（康复）期满解除")
    URINALYSIS = "urinalysis", _("尿检")
    HAIR_TEST = "hair_test", _("毛发检测")
    RELAPSE = "relapse", _("复吸")
    RESIDENCE_CHANGED = "residence_changed", _("变更居住地")
    LEFT_COUNTY = "left_county", _("离开县（市、区）")
    RETURNED = "returned", _("返回")
    REFUSED_TEST = "refused_test", _("拒绝（逃避）检测")
    VIOLATION = "violation", _("违反协议")
    REFUSED_MEASURE = "refused_measure", _("拒绝接受社区戒毒（康复）")
    DEATH = "death", _("死亡")
    EMIGRATION = "emigration", _("出境定居")
    CORRECTION = "correction", _("更正错误记录")


class EventSource(models.TextChoices):
    """Who reported the event (the paper trail behind it)."""

    POLICE = "police", _("公安机关")
    FACILITY = "facility", _("戒毒场所")
    TOWN = "town", _("镇街禁毒办")
    SOCIAL_WORKER = "social_worker", _("禁毒社工")
    SCREENING = "screening", _("滚动排查")
    IMPORT = "import", _("批量导入")
    OTHER = "other", _("其他")


class TestResult(models.TextChoices):
    NEGATIVE = "negative", _("阴性")
    POSITIVE = "positive", _("阳性")
    REFUSED = "refused", _("拒检")
    MISSED = "missed", _("未按时检测")
    INVALID = "invalid", _("无效")


class Status(models.TextChoices):
    """Control status derived from the timeline (never typed in)."""

    COMMUNITY_DRUG_REHAB = "community_drug_rehab", _("社区戒毒")
    ISOLATION = "isolation", _("强制隔离戒毒")
    COMMUNITY_REHAB = "community_rehab", _("社区康复")
    AWAITING_REPORT = "awaiting_report", _("待报到")
    CURRENT_NO_MEASURE = "current_no_measure", _("现有吸毒人员（未在管控措施中）")
    ABSTINENT_3Y = "abstinent_3y", _("戒断三年未复吸")
    DECEASED = "deceased", _("死亡")
    EMIGRATED = "emigrated", _("出境定居")


#: Statuses counted as "current drug users" (现有吸毒人员) in the national statistics: everyone
#: registered except the abstinent three years, the dead and those who left the country
#: (NNCC 2017 and 2023 drug situation reports; legal_rules.md §2).
CURRENT_USER_STATUSES = (
    Status.COMMUNITY_DRUG_REHAB, Status.ISOLATION, Status.COMMUNITY_REHAB, Status.AWAITING_REPORT,
    Status.CURRENT_NO_MEASURE,
)


class Tier(models.TextChoices):
    """Risk tiers (分级分类): A high, B medium, C1 ordinary low, C2 long-term low
    (浙公通字〔2022〕65号 factors; thresholds are reasoned defaults, casework_rules.md §6.1)."""

    A = "A", _("A级（高风险）")
    B = "B", _("B级（中风险）")
    C1 = "C1", _("C1级（一般低风险）")
    C2 = "C2", _("C2级（长期低风险）")


class ContactKind(models.TextChoices):
    INTERVIEW = "interview", _("谈话")
    HOME_VISIT = "home_visit", _("家访")
    PHONE = "phone", _("电话联系")
    VIDEO = "video", _("视频联系")
    POLICE_CONTACT = "police_contact", _("民警见面")


class AssistanceKind(models.TextChoices):
    """Help given, as counted in the seed's statistics (帮扶救助人次, 推荐就业人数)."""

    CARE = "care", _("关怀救助")
    SKILLS_TRAINING = "skills_training", _("技能培训")
    STARTUP_GRANT = "startup_grant", _("创业扶持")
    JOB_PLACEMENT = "job_placement", _("就业安置")
    FARMING_GUIDANCE = "farming_guidance", _("种养殖指导")
    MEDICAL = "medical", _("医疗救治")
    SOCIAL_SECURITY = "social_security", _("低保及社会保障")


class DueKind(models.TextChoices):
    """Kinds of recurring or one-off work the schedule makes due (``schedule.py``)."""

    URINALYSIS = "urinalysis", _("尿检")
    HAIR_TEST = "hair_test", _("毛发检测")
    CONTACT = "contact", _("联系（谈话）")
    HOME_VISIT = "home_visit", _("家访")
    REASSESSMENT = "reassessment", _("风险评估")
    PLAN_REVIEW = "plan_review", _("帮扶计划回顾")
    REPORT = "report", _("报到")
    HANDOVER = "handover", _("出所衔接")


class HandoverStatus(models.TextChoices):
    NOTIFIED = "notified", _("已接出所通知")
    RECEIVED = "received", _("已接回")
    REPORTED = "reported", _("已报到")
    AGREEMENT_SIGNED = "agreement_signed", _("已签协议")
    FAILED = "failed", _("未衔接（逾期）")


class TransferStatus(models.TextChoices):
    PENDING = "pending", _("待接收")
    ACCEPTED = "accepted", _("已接收")
    REJECTED = "rejected", _("已退回")
    CANCELLED = "cancelled", _("已撤销")


class ScreeningOutcome(models.TextChoices):
    """Result of verifying one person in a rolling screening round (滚动排查)."""

    SEEN = "seen", _("见面核实")
    MOVED = "moved", _("已迁出")
    LOST_CONTACT = "lost_contact", _("失联")
    DIED = "died", _("死亡")
    NEWLY_FOUND = "newly_found", _("新发现")


class ProposalStatus(models.TextChoices):
    PENDING = "pending", _("待决定")
    ACCEPTED = "accepted", _("已同意")
    REJECTED = "rejected", _("已驳回")


class AccessStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("已驳回")
    REVOKED = "revoked", _("已撤销")
