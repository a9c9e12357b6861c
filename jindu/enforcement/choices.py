from django.db import models
from django.utils.translation import gettext_lazy as _


class CampaignKind(models.TextChoices):
    SPRING_SUMMER = "spring_summer", _("春夏攻势")
    AUTUMN_WINTER = "autumn_winter", _("秋冬攻势")
    SOURCE_CUTOFF = "source_cutoff", _("清源断流")
    CLUSTER = "cluster", _("集群打零")
    OTHER = "other", _("其他专项行动")


class CampaignLevel(models.TextChoices):
    NATIONAL = "national", _("全国")
    PROVINCE = "province", _("省级")
    CITY = "city", _("市级")
    DISTRICT = "district", _("区级")


class CaseKind(models.TextChoices):
    CRIMINAL = "criminal", _("刑事案件")
    ADMINISTRATIVE = "administrative", _("行政案件")


class Offence(models.TextChoices):
    """Offences of Criminal Law ch. 6 sec. 7 (art. 347–357) and the administrative ones of
    the Public Security Administration Punishments Law; the article is in the label."""

    TRAFFICKING = "trafficking", _("贩卖毒品（刑法第347条）")
    SMUGGLING = "smuggling", _("走私毒品（刑法第347条）")
    TRANSPORTING = "transporting", _("运输毒品（刑法第347条）")
    MANUFACTURING = "manufacturing", _("制造毒品（刑法第347条）")
    POSSESSION = "possession", _("非法持有毒品（刑法第348条）")
    HARBOURING_OFFENDERS = "harbouring_offenders", _("包庇毒品犯罪分子、窝藏毒品（刑法第349条）")
    PRECURSOR = "precursor", _("制毒物品犯罪（刑法第350条）")
    CULTIVATION = "cultivation", _("非法种植毒品原植物（刑法第351条）")
    SEEDS = "seeds", _("非法买卖、运输、携带、持有毒品原植物种子、幼苗（刑法第352条）")
    INDUCING_USE = "inducing_use", _("引诱、教唆、欺骗他人吸毒（刑法第353条）")
    FORCING_USE = "forcing_use", _("强迫他人吸毒（刑法第353条）")
    HARBOURING_USE = "harbouring_use", _("容留他人吸毒（刑法第354条）")
    ILLEGAL_PROVISION = "illegal_provision", _("非法提供麻醉药品、精神药品（刑法第355条）")
    DRUG_MANAGEMENT = "drug_management", _("妨害药品管理（刑法第142条之一）")
    DRUG_USE = "drug_use", _("吸食、注射毒品（治安管理处罚法）")
    ADMIN_HARBOURING = "admin_harbouring", _("容留他人吸毒（治安管理处罚法）")
    ADMIN_POSSESSION = "admin_possession", _("非法持有少量毒品（治安管理处罚法）")
    OTHER = "other", _("其他")


# Offences with a drug-quantity element (art. 347 and 348): the seizure quantity class
# applies. Other offences answer "not applicable" (e.g. forcing use, art. 353).
QUANTITY_OFFENCES = frozenset({
    Offence.TRAFFICKING, Offence.SMUGGLING, Offence.TRANSPORTING, Offence.MANUFACTURING, Offence.POSSESSION,
    Offence.HARBOURING_OFFENDERS, Offence.ADMIN_POSSESSION,
})
# Offences whose quantity is counted in plants or seeds (art. 351, 352; thresholds_other.csv).
PLANT_OFFENCES = frozenset({Offence.CULTIVATION, Offence.SEEDS})


class CaseStatus(models.TextChoices):
    """Lifecycle: filed → solved → transferred for prosecution (criminal) → closed;
    a case may be withdrawn (撤案) before it is closed."""

    FILED = "filed", _("已立案")
    SOLVED = "solved", _("已破案")
    TRANSFERRED = "transferred", _("已移送起诉")
    CLOSED = "closed", _("已结案")
    WITHDRAWN = "withdrawn", _("已撤案")


CASE_TRANSITIONS: dict[str, tuple[str, ...]] = {
    CaseStatus.FILED: (CaseStatus.SOLVED, CaseStatus.WITHDRAWN),
    CaseStatus.SOLVED: (CaseStatus.TRANSFERRED, CaseStatus.CLOSED, CaseStatus.WITHDRAWN),
    CaseStatus.TRANSFERRED: (CaseStatus.CLOSED,),
    CaseStatus.CLOSED: (),
    CaseStatus.WITHDRAWN: (),
}


class HandlingLevel(models.TextChoices):
    """The three-level case-solving mechanism (市局、分局、派出所“三级”破案工作机制)."""

    CITY_BUREAU = "city_bureau", _("市公安局")
    BRANCH = "branch", _("分局")
    STATION = "station", _("派出所")


class TargetLevel(models.TextChoices):
    NONE = "", _("非目标案件")
    MINISTRY = "ministry", _("公安部目标案件")
    PROVINCE = "province", _("省级目标案件")
    CITY = "city", _("市级目标案件")


class SuspectRole(models.TextChoices):
    ORGANISER = "organiser", _("组织者")
    PRINCIPAL = "principal", _("主犯")
    ACCOMPLICE = "accomplice", _("从犯")
    OTHER = "other", _("其他涉案人员")


class Gender(models.TextChoices):
    MALE = "male", _("男")
    FEMALE = "female", _("女")
    UNKNOWN = "", _("未知")


class SeizureForm(models.TextChoices):
    CRYSTAL = "crystal", _("晶体")
    TABLETS = "tablets", _("片剂")
    POWDER = "powder", _("粉末")
    LIQUID = "liquid", _("液体")
    PLANT = "plant", _("植物")
    BLOCK = "block", _("块状/膏状")


class DriverCategory(models.TextChoices):
    SCHOOL_BUS = "school_bus", _("校车驾驶员")
    BUS = "bus", _("公交车驾驶员")
    FREIGHT = "freight", _("货运驾驶员")
    COACH = "coach", _("客运驾驶员")
    TAXI = "taxi", _("出租车/网约车驾驶员")
    HAZMAT = "hazmat", _("危化品运输驾驶员")
    OTHER = "other", _("其他")


class ScreeningResult(models.TextChoices):
    NEGATIVE = "negative", _("阴性")
    POSITIVE = "positive", _("阳性")
    REFUSED = "refused", _("拒绝检测")
