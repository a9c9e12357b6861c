"""Registry and test-result imports: the same service path as registration by hand, preview
then all-or-nothing commit, Chinese errors naming row and column, and the spreadsheet peer
cases 1–7 of ``shared/reference/acceptance/peer-cases.md``."""

import datetime as dt

import pytest
from django.db.models import Q

from jindu.core.imports import get_importer
from jindu.core.imports.engine import read_and_run
from jindu.core.imports.services import commit_batch, create_batch, preview_batch
from jindu.core.imports.testing import make_csv, make_xlsx
from jindu.core.models import AccessLog, AuditEvent, ImportBatch
from jindu.persons import choices
from jindu.persons.models import Event, Person
from jindu.persons.tests.io_support import (
    OLD_15, OLD_15_AS_18, PERSON_A_ID, PERSON_B_ID, RARE_NAME, id_number, make_person, role_user, village,
)
from jindu.substances.models import Substance

HEAD = ["身份证号", "姓名", "联系电话", "居住地（村居代码或名称）", "滥用毒品种类", "登记日期", "初次查获日期"]


def run(name, data, filename, user, commit=True):
    return read_and_run(get_importer(name), data, filename, user=user, commit=commit)


def messages(result):
    return " | ".join(f"{e['row']}:{e['column']}:{e['message']}" for e in result.errors)


@pytest.fixture
def town_user(db):
    """A town office user of 中山街道 (460106001)."""
    return role_user("town_office", "460106001")


@pytest.fixture
def home():
    return village("460106001")


# -- registry ----------------------------------------------------------------------------------

def test_registry_import_registers_through_the_service(town_user, home):
    data = make_xlsx([
        HEAD,
        [PERSON_A_ID, "张测试", 13900001111, home.code, "冰毒、氯胺酮", "2024-03-05", "2024/3/1"],
        [PERSON_B_ID.lower(), "李样例", "0898-66123456", home.name, "依托咪酯", dt.date(2024, 3, 6), None],
    ], text_columns=[1, 4])
    preview = run("persons.person", data, "r.xlsx", town_user, commit=False)
    assert preview.ok, messages(preview)
    assert preview.counts["created"] == 2 and not Person.objects.exists()  # the preview wrote nothing

    result = run("persons.person", data, "r.xlsx", town_user)
    assert result.ok and result.committed, messages(result)
    a = Person.objects.get(name="张测试")
    assert a.phone == "13900001111"  # peer case 1: never "13900001111.0"
    assert (a.birth_date, a.sex) == (dt.date(1990, 3, 7), "M")  # from the identity number
    assert a.registered_on == dt.date(2024, 3, 5) and a.residence_division == home
    assert sorted(a.drugs.values_list("name_zh", flat=True)) == ["氯胺酮", "甲基苯丙胺"]
    assert list(a.events.values_list("kind", "occurred_on", "source")) == [
        (choices.EventKind.FOUND_USING, dt.date(2024, 3, 1), choices.EventSource.IMPORT)]
    b = Person.objects.get(name="李样例")
    assert b.identity_number == PERSON_B_ID and b.phone == "0898-66123456"
    assert AuditEvent.objects.filter(action="persons.person_registered").count() == 2


def test_imported_people_are_derived_as_the_nightly_recomputation_derives_them(town_user, home):
    """The import derives its new people's status, dates and due items from the records in
    hand, before they are inserted (``bulk.derive_new``); recomputing them from the database afterwards changes
    nothing, whether they were found using long ago, recently or never."""
    from jindu.core.timeutils import local_today
    from jindu.persons import bulk
    from jindu.persons.models import DueItem

    today = local_today()
    rows = [HEAD]
    for i, found in enumerate([None, today - dt.timedelta(days=3), today - dt.timedelta(days=400),
                               today - dt.timedelta(days=4 * 365), today]):
        rows.append([id_number(dt.date(1990, 1, 1 + i)), f"导入{i}", None, home.code, "海洛因", None,
                     found.isoformat() if found else None])
    result = run("persons.person", make_xlsx(rows, text_columns=[1]), "r.xlsx", town_user)
    assert result.ok and result.committed, messages(result)
    people = Person.objects.filter(name__startswith="导入")
    assert people.count() == 5 and not people.filter(derived_on__isnull=True).exists()
    stored = {p.pk: (p.status, p.status_since, p.next_due_on, p.abstinent_three_years_on) for p in people}
    due = sorted(DueItem.objects.filter(person__in=people).values_list("person_id", "kind", "due_on", "basis"))
    assert due, "a person found using recently has something due"

    stats = bulk.recompute(as_of=today, people=Q(pk__in=list(stored)))
    assert (stats.people, stats.changed, stats.due_changed) == (5, 0, 0)
    assert {p.pk: (p.status, p.status_since, p.next_due_on, p.abstinent_three_years_on)
            for p in people.all()} == stored
    assert sorted(DueItem.objects.filter(person__in=people).values_list("person_id", "kind", "due_on", "basis")) == due


def test_one_bad_row_writes_nothing_and_names_row_and_column(town_user, home):
    data = make_csv([
        HEAD,
        [PERSON_A_ID, "张测试", "13900001111", home.code, "", "2024-03-05", ""],
        ["110101199003071232", "坏号码", "13900002222", home.code, "", "2024-03-05", ""],
        [PERSON_B_ID, "李样例", "139", home.code, "", "2024-03-05", ""],
        ["110101197001010016", "无此物", "", home.code, "不存在的药", "2024-03-05", ""],
    ])
    result = run("persons.person", data, "r.csv", town_user)
    assert not result.committed and not Person.objects.exists()
    rows = {(e["row"], e["column"]) for e in result.errors}
    assert (3, "身份证号") in rows or (3, "证件号码") in rows
    assert (4, "联系电话") in rows
    assert (5, "滥用毒品种类") in rows
    assert "校验位" in messages(result) and "不存在的药" in messages(result)
    assert "110101199003071232" not in messages(result)  # numbers are never repeated in errors


def test_reimport_matches_the_registered_person(town_user, home):
    first = make_csv([HEAD, [OLD_15_AS_18, "旧号码", "13900001111", home.code, "", "2024-01-02", ""]])
    assert run("persons.person", first, "a.csv", town_user).committed
    person = Person.objects.get()
    # The same person written with the old 15-digit number, full-width: nothing changes.
    again = make_csv([HEAD, [OLD_15, "旧号码", "13900001111", home.code, "", "2024-01-02", ""]])
    result = run("persons.person", again, "b.csv", town_user)
    assert result.committed and result.counts == {"created": 0, "updated": 0, "unchanged": 1}, messages(result)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in OLD_15_AS_18)
    changed = make_csv([HEAD, [full_width, "旧号码", "+86 139-0000-2222", home.code, "", "2024-01-02", ""]])
    result = run("persons.person", changed, "c.csv", town_user)
    assert result.committed and result.counts["updated"] == 1, messages(result)
    assert Person.objects.count() == 1
    person.refresh_from_db()
    assert person.phone == "13900002222" and person.version == 2
    assert AuditEvent.objects.filter(action="persons.person_updated", target_id=str(person.pk)).count() == 1


def test_reimport_cannot_move_the_residence(town_user, home):
    make_person(home, identity_number=PERSON_A_ID, name="张测试")
    other = village("460106001", 1)
    result = run("persons.person", make_csv([HEAD, [PERSON_A_ID, "张测试", "", other.code, "", "", ""]]),
                 "m.csv", town_user)
    assert not result.committed and "人员转移" in messages(result)
    assert Person.objects.get().residence_division == home


def test_registered_elsewhere_is_refused_without_detail(town_user, home):
    make_person(village("460105001"), identity_number=PERSON_A_ID, name="别处的人")
    result = run("persons.person", make_csv([HEAD, [PERSON_A_ID, "张测试", "", home.code, "", "", ""]]),
                 "d.csv", town_user)
    assert not result.committed and "已登记" in messages(result)
    assert "别处的人" not in messages(result)
    assert Person.objects.count() == 1


def test_residence_outside_scope_refused(town_user):
    outside = village("460105001")
    result = run("persons.person", make_csv([HEAD, [PERSON_A_ID, "张测试", "", outside.code, "", "", ""]]),
                 "o.csv", town_user)
    assert not result.committed and not Person.objects.exists()
    assert any(e["row"] == 2 for e in result.errors)


def test_status_column_is_ignored_never_imported(town_user, home):
    data = make_csv([HEAD + ["管控状态"], [PERSON_A_ID, "张测试", "", home.code, "", "2024-03-05", "", "社区康复"]])
    result = run("persons.person", data, "s.csv", town_user)
    assert result.committed, messages(result)
    assert any("管控状态" in w for w in result.warnings)
    assert Person.objects.get().status != choices.Status.COMMUNITY_REHAB


def test_batch_commit_keeps_the_file_and_logs_the_import(town_user, home):
    importer = get_importer("persons.person")
    data = make_csv([HEAD, [PERSON_A_ID, "张测试", "", home.code, "", "", ""]])
    batch = create_batch(importer=importer, user=town_user, name="登记.csv", content=data)
    preview_batch(batch, user=town_user)
    assert batch.status == ImportBatch.Status.PREVIEWED and not Person.objects.exists()
    commit_batch(batch, user=town_user)
    assert batch.status == ImportBatch.Status.COMMITTED
    person = Person.objects.get()
    log = AccessLog.objects.get(kind=AccessLog.Kind.IMPORT)
    assert log.object_ids == [str(person.pk)] and log.model == "persons.Person"


def test_reported_drugs_read_common_usage_names(town_user, home):
    """A person's reported drugs read the street names a seizure refuses (shared table
    ``substances/data/drug_names.csv``, policy REPORTED_USE); an unknown name is refused."""
    data = make_csv([
        HEAD,
        [PERSON_A_ID, "张测试", "13900001111", home.code, "K粉、摇头丸/白粉；麻古", "2024-03-05", ""],
        [PERSON_B_ID, "李样例", "13900002222", home.code, "ｋ粉、哌替啶（度冷丁）", "2024-03-05", ""],
    ])
    result = run("persons.person", data, "r.csv", town_user)
    assert result.ok and result.committed, messages(result)
    a, b = Person.objects.get(name="张测试"), Person.objects.get(name="李样例")
    assert sorted(a.drugs.values_list("name_zh", flat=True)) == sorted(
        ["氯胺酮", "3,4-亚甲二氧基甲基苯丙胺", "海洛因", "甲基苯丙胺"])
    assert sorted(b.drugs.values_list("name_zh", flat=True)) == sorted(["氯胺酮", "哌替啶"])

    bad = make_csv([HEAD, ["110101197001010016", "无此物", "", home.code, "冰毒、神仙水", "2024-03-05", ""]])
    refused = run("persons.person", bad, "b.csv", town_user)
    assert not refused.committed and "神仙水" in messages(refused) and "滥用毒品种类" in messages(refused)


# -- peer cases 1-7 --------------------------------------------------------------------------

def test_peer1_numeric_code_cell_never_loses_its_zero(town_user, home):
    """A numeric 社区编码 231 shown as 0000 is read as "0231" (and then not found), or refused
    asking for text format — never stored as "231"."""
    data = make_xlsx([HEAD, [PERSON_A_ID, "张测试", 13900001111, 231, "", None, None]],
                     formats={"D2": "0000"}, text_columns=[1])
    result = run("persons.person", data, "c.xlsx", town_user)
    assert not result.committed and not Person.objects.exists()
    text = messages(result)
    assert "0231" in text or "文本" in text
    data = make_xlsx([HEAD, [PERSON_A_ID, "张测试", 13900001111, 231, "", None, None]], text_columns=[1])
    text = messages(run("persons.person", data, "c.xlsx", town_user))
    assert "文本" in text


def test_peer1_identity_number_in_numeric_cell_refused(town_user, home):
    data = make_xlsx([HEAD, [110101199003071233, "张测试", "", home.code, "", None, None]])
    result = run("persons.person", data, "n.xlsx", town_user)
    assert not result.committed and "文本" in messages(result)


def test_peer2_four_date_forms_and_an_impossible_date(town_user):
    people = [make_person(village("460106001"), name=f"检测{i}") for i in range(5)]
    data = make_xlsx([
        ["身份证号", "检测类型", "尿检日期", "结果"],
        [people[0].identity_number, "尿检", dt.date(2024, 3, 5), "阴性"],
        [people[1].identity_number, "尿检", "2024/3/5", "阴性"],
        [people[2].identity_number, "尿检", "2024年3月5日", "阴性"],
        [people[3].identity_number, "尿检", 45356, "阴性"],
        [people[4].identity_number, "尿检", "2024-02-30", "阴性"],
    ], text_columns=[1])
    preview = run("persons.test_result", data, "t.xlsx", town_user, commit=False)
    assert preview.counts["created"] == 4 and preview.error_rows == 1
    assert [e["row"] for e in preview.errors] == [6] and "不存在" in preview.errors[0]["message"]
    good = make_xlsx([row for i, row in enumerate([
        ["身份证号", "检测类型", "尿检日期", "结果"],
        [people[0].identity_number, "尿检", dt.date(2024, 3, 5), "阴性"],
        [people[1].identity_number, "尿检", "2024/3/5", "阴性"],
        [people[2].identity_number, "尿检", "2024年3月5日", "阴性"],
        [people[3].identity_number, "尿检", 45356, "阴性"],
    ])], text_columns=[1])
    assert run("persons.test_result", good, "t.xlsx", town_user).committed
    assert set(Event.objects.filter(kind="urinalysis").values_list("occurred_on", flat=True)) == {dt.date(2024, 3, 5)}
    assert Event.objects.filter(kind="urinalysis").count() == 4


def test_peer3_bom_header_recognised(town_user, home):
    data = b"\xef\xbb\xbf" + f"身份证号,姓名,居住地\n{PERSON_A_ID},张测试,{home.code}\n".encode()
    result = run("persons.person", data, "bom.csv", town_user)
    assert result.committed and result.counts["created"] == 1, messages(result)
    assert Person.objects.get().name == "张测试"
    make_person(home, name="检测人")
    tests = b"\xef\xbb\xbf" + f"身份证号,检测类型,检测日期,结果\n{PERSON_A_ID},尿检,2024-03-05,阴性\n".encode()
    result = run("persons.test_result", tests, "bom.csv", town_user)
    assert result.committed, messages(result)


def test_peer4_gbk_and_gb18030_with_rare_character(town_user, home):
    rows = [["身份证号", "姓名", "居住地"], [PERSON_A_ID, "张测试", home.code]]
    assert run("persons.person", make_csv(rows, encoding="gbk"), "gbk.csv", town_user).committed
    rare = [["身份证号", "姓名", "居住地"], [PERSON_B_ID, RARE_NAME, home.code]]
    result = run("persons.person", make_csv(rare, encoding="gb18030"), "gb.csv", town_user)
    assert result.committed, messages(result)
    assert Person.objects.get(identity_number_digest__isnull=False, name=RARE_NAME).name == "\u738b\U0002003e"
    # Neither UTF-8 nor GB18030: refused with an encoding error, never mojibake.
    bad = "身份证号,姓名,居住地\n".encode("gbk") + b"\x81\x30\xff\xff\n"
    result = run("persons.person", bad, "bad.csv", town_user)
    assert not result.committed and "编码" in messages(result)
    assert Person.objects.count() == 2


def test_peer5_merged_cells_stop_the_import(town_user, home):
    data = make_xlsx([
        ["居住地", "身份证号", "姓名"],
        [home.code, PERSON_A_ID, "张测试"],
        [None, PERSON_B_ID, "李样例"],
        [None, OLD_15_AS_18, "王测试"],
    ], merges=["A2:A4"], text_columns=[1, 2])
    result = run("persons.person", data, "m.xlsx", town_user)
    assert not result.committed and "A2:A4" in messages(result)
    assert not Person.objects.exists()


@pytest.mark.parametrize("second", [PERSON_A_ID, "１１０１０１１９９００３０７１２３３"])
def test_peer6_in_file_duplicates_flag_both_rows(town_user, home, second):
    data = make_csv([
        ["身份证号", "姓名", "居住地", "管控状态"],
        [PERSON_A_ID, "张测试", home.code, "社区戒毒"],
        [second, "张测式", home.code, "社区康复"],
    ])
    preview = run("persons.person", data, "d.csv", town_user, commit=False)
    assert {e["row"] for e in preview.errors} == {2, 3}
    assert all("重复" in e["message"] for e in preview.errors)
    assert preview.counts == {"created": 0, "updated": 0, "unchanged": 0}
    result = run("persons.person", data, "d.csv", town_user)
    assert not result.committed and not Person.objects.exists()


def test_peer6_old_and_new_form_of_one_number_are_duplicates(town_user, home):
    data = make_csv([["身份证号", "姓名", "居住地"], [OLD_15, "甲", home.code], [OLD_15_AS_18, "乙", home.code]])
    result = run("persons.person", data, "d.csv", town_user, commit=False)
    assert {e["row"] for e in result.errors} == {2, 3}


def test_peer7_day_first_dates_are_refused_and_iso_stays_iso(town_user, home):
    data = make_csv([
        ["身份证号", "姓名", "居住地", "登记日期"],
        [PERSON_A_ID, "张测试", home.code, "15/04/2023"],
        [PERSON_B_ID, "李样例", home.code, "02/05/2023"],
        [OLD_15_AS_18, "王测试", home.code, "2024-11-06"],
    ])
    preview = run("persons.person", data, "d.csv", town_user, commit=False)
    assert {e["row"] for e in preview.errors} == {2, 3}
    assert all("YYYY-MM-DD" in e["message"] for e in preview.errors)
    ok = make_csv([["身份证号", "姓名", "居住地", "登记日期"], [OLD_15_AS_18, "王测试", home.code, "2024-11-06"]])
    assert run("persons.person", ok, "ok.csv", town_user).committed
    assert Person.objects.get().registered_on == dt.date(2024, 11, 6)


# -- test results ---------------------------------------------------------------------------

TESTS_HEAD = ["身份证号", "检测类型", "检测日期", "结果", "检出物质"]


def test_test_results_are_appended_through_the_service(town_user, home):
    person = make_person(home, identity_number=PERSON_A_ID, name="张测试")
    data = make_csv([
        TESTS_HEAD,
        [PERSON_A_ID, "尿检", "2024-03-05", "阴性", ""],
        [id_number(dt.date(1970, 1, 1), region="110101", seq=5), "毛发", "2024-03-20", "阳性", "冰毒"],  # nobody
        [PERSON_A_ID.lower(), "毛发检测", "2024-04-01", "拒检", ""],
    ])
    result = run("persons.test_result", data, "t.csv", town_user)
    assert not result.committed and [e["row"] for e in result.errors] == [3]
    data = make_csv([
        TESTS_HEAD,
        [PERSON_A_ID, "尿检", "2024-03-05", "阴性", ""],
        [PERSON_A_ID, "毛发", "2024-03-20", "阳性", "冰毒"],
        [PERSON_A_ID, "毛发检测", "2024-04-01", "拒检", ""],
    ])
    result = run("persons.test_result", data, "t.csv", town_user)
    assert result.committed and result.counts["created"] == 3, messages(result)
    events = list(person.events.order_by("occurred_on").values_list("kind", "result", "substance__name_zh", "source"))
    assert events == [
        ("urinalysis", "negative", None, "import"),
        ("hair_test", "positive", "甲基苯丙胺", "import"),
        ("hair_test", "refused", None, "import"),
    ]
    assert AuditEvent.objects.filter(action="persons.event_recorded").count() == 3
    person.refresh_from_db()
    assert person.last_detected_use_on == dt.date(2024, 3, 20)  # recomputed from the timeline

    # The same file again adds nothing; a different result for the same test is refused.
    again = run("persons.test_result", data, "t.csv", town_user)
    assert again.committed and again.counts == {"created": 0, "updated": 0, "unchanged": 3}
    clash = make_csv([TESTS_HEAD, [PERSON_A_ID, "尿检", "2024-03-05", "阳性", "氯胺酮"]])
    result = run("persons.test_result", clash, "t.csv", town_user)
    assert not result.committed and "更正" in messages(result)
    assert person.events.count() == 3


def test_test_result_of_person_out_of_scope_reads_as_not_found(town_user):
    make_person(village("460105001"), identity_number=PERSON_A_ID)
    data = make_csv([TESTS_HEAD, [PERSON_A_ID, "尿检", "2024-03-05", "阴性", ""]])
    result = run("persons.test_result", data, "t.csv", town_user)
    assert not result.committed and "未找到" in messages(result)
    assert not Event.objects.exists()


def test_substance_only_for_positive_and_future_dates_refused(town_user, home):
    make_person(home, identity_number=PERSON_A_ID)
    data = make_csv([
        TESTS_HEAD,
        [PERSON_A_ID, "尿检", "2024-03-05", "阴性", "氯胺酮"],
        [PERSON_A_ID, "毛发", "2999-01-01", "阴性", ""],
    ])
    result = run("persons.test_result", data, "t.csv", town_user)
    assert not result.committed and {e["row"] for e in result.errors} == {2, 3}
    assert "检出物质" in messages(result)
    assert not Event.objects.exists()


def test_templates_download(town_user, client):
    from django.urls import NoReverseMatch, reverse

    client.force_login(town_user)
    for name in ("persons.person", "persons.test_result"):
        response = client.get(reverse("import_template", kwargs={"importer": name}))
        assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxml")
    try:
        url = reverse("persons:person_import")
    except NoReverseMatch:
        pytest.skip("persons.urls does not include urls_io yet")
    assert client.get(url).status_code == 200
    assert Substance.objects.exists()
