"""The registry import's bulk path (batches of people validated by the registration form and
written together, ``PersonImporter.process_rows``) gives what registering the rows one by
one gives: the same errors for the same bad rows, and the same people, substances, timeline
events, derived status, due items, audit events, worker assignment and near-duplicate merge
proposals for the good ones.

Each case runs the same file through the importer twice: once as shipped (bulk) and once
with ``bulk_rows = 0`` (the engine's row-by-row path: form, ``register_person``), and
compares what a user would check.
"""

import datetime as dt

import pytest
from django.db import connection, transaction  # noqa: F401 — connection: the skipif conditions

from jindu.core.imports import get_importer
from jindu.core.imports.engine import run_import
from jindu.core.imports.readers import open_table
from jindu.core.imports.testing import make_csv
from jindu.core.models import AuditEvent
from jindu.core.timeutils import local_today
from jindu.persons.models import DueItem, Event, MergeProposal, Person
from jindu.persons.tests.io_support import (
    OLD_15_AS_18, PERSON_A_ID, PERSON_B_ID, id_number, make_person, role_user, village,
)

pytestmark = pytest.mark.django_db

HEAD = ["身份证号", "姓名", "性别", "出生日期", "联系电话", "居住地（村居代码或名称）", "滥用毒品种类", "登记日期",
        "初次查获日期"]

# Person fields compared (everything a user or a rule reads; not the primary key and timestamps).
PERSON_COLUMNS = [f.attname for f in Person._meta.concrete_fields
                  if f.attname not in ("id", "created_at", "updated_at")]


def run(data, user, *, bulk, commit, batch=None, name="r.csv"):
    importer = get_importer("persons.person")
    importer.bulk_rows = (batch or importer.bulk_rows) if bulk else 0
    return run_import(importer, open_table(data, name), user=user, commit=commit)


def outcome(result):
    return {
        "errors": [(e["row"], e["column"], e["message"]) for e in result.errors],
        "errors_total": result.errors_total,
        "error_rows": result.error_rows,
        "counts": dict(result.counts),
        "preview": result.preview,
        "committed": result.committed,
        "total_rows": result.total_rows,
    }


def snapshot(user):
    """Everything the import wrote, keyed by identity number (primary keys differ)."""
    people = {p.identity_number: p for p in Person.objects.all()}
    number = {p.pk: n for n, p in people.items()}
    persons = {n: {c: getattr(p, c) for c in PERSON_COLUMNS} for n, p in people.items()}
    for values in persons.values():
        values["assigned_worker_id"] = values["assigned_worker_id"] == getattr(user, "pk", None) \
            if values["assigned_worker_id"] else None
    drugs = {number[p.pk]: sorted(p.drugs.values_list("pk", flat=True)) for p in people.values()}
    events = sorted((number[e.person_id], e.kind, e.occurred_on, e.source, e.result, e.notes, e.document_number,
                     e.recorded_by_id, e.version) for e in Event.objects.all())
    due = sorted((number[d.person_id], d.kind, d.due_on, d.basis) for d in DueItem.objects.all())
    audit = sorted((number[int(a.target_id)], a.action, a.actor_id, a.actor_repr, a.target_repr,
                    sorted(a.changes.items()))
                   for a in AuditEvent.objects.filter(action__startswith="persons."))
    proposals = sorted((number[m.keep_id], number[m.duplicate_id], tuple(m.reasons), m.status)
                       for m in MergeProposal.objects.all())
    tracked = [f.attname for f in Person.history.model._meta.concrete_fields
               if f.attname in PERSON_COLUMNS]
    history = {}
    for h in Person.history.order_by("history_date", "history_id"):
        history.setdefault(number.get(h.id), []).append((h.history_type, tuple(getattr(h, c) for c in tracked)))
    return {"persons": persons, "drugs": drugs, "events": events, "due": due, "audit": audit,
            "proposals": proposals, "history": history}


def both_ways(data, user, *, commit, batch=None):
    """(row by row, bulk): each import's outcome and the database it left, rolled back."""
    out = []
    for bulk in (False, True):
        with transaction.atomic():
            result = run(data, user, bulk=bulk, commit=commit, batch=batch)
            out.append((outcome(result), snapshot(user)))
            transaction.set_rollback(True)
    return out


@pytest.fixture
def town_user(db):
    return role_user("town_office", "460106001")


@pytest.fixture
def home():
    return village("460106001")


def good_rows(home):
    """New people: plain, old 15-digit number, derived sex/birth, several substances,
    private-use character in the name, two sharing a phone, one named like a registered
    person (same name and birth date), one with the phone of a registered person."""
    neighbour = village("460106001", 1)
    today = local_today()
    return [
        [PERSON_A_ID, "张测试", "", "", "13900001111", home.code, "冰毒、氯胺酮", "2024-03-05", "2024/3/1"],
        [PERSON_B_ID.lower(), "李样例", "男", "1988-05-16", "0898-66123456", home.name, "依托咪酯", "", ""],
        ["110101750812341", "王旧号", "", "", "13900002222", neighbour.code, "", "2023-01-02", "2022-12-30"],
        [id_number(dt.date(1985, 1, 1), seq=11), "赵\ue000字", "", "", "13900002222", home.code, "海洛因", "", ""],
        [id_number(dt.date(1979, 6, 1), seq=13), "同名人", "", "", "", home.code, "", "", str(today)],
        [id_number(dt.date(1991, 2, 3), seq=15), "同号人", "", "", "13977776666", home.code, "K粉", "", ""],
    ]


def registered_before(home):
    """People already in the registry the new rows resemble (near duplicates)."""
    make_person(home, identity_number=id_number(dt.date(1979, 6, 1), seq=21), name="同名人",
                birth_date=dt.date(1979, 6, 1), sex="M")
    make_person(village("460106001", 1), identity_number=id_number(dt.date(1970, 1, 1), seq=23), name="旧人",
                phone="13977776666")


@pytest.mark.parametrize("batch", [None, 2])
def test_good_file_writes_the_same_registry_both_ways(town_user, home, batch):
    registered_before(home)
    data = make_csv([HEAD, *good_rows(home)])
    (one_by_one, db_one), (bulk, db_bulk) = both_ways(data, town_user, commit=True, batch=batch)
    assert one_by_one["committed"], one_by_one["errors"]
    assert one_by_one["counts"] == {"created": 6, "updated": 0, "unchanged": 0}
    assert bulk == one_by_one
    # what the rows must have produced, so that "equal" is not "equally empty"
    assert len(db_bulk["persons"]) == 8 and len(db_bulk["events"]) == 3 and db_bulk["due"]
    assert {r for _k, _d, r, _s in db_bulk["proposals"]} == {("same_name_and_birth_date",), ("same_phone",)}
    assert len(db_bulk["proposals"]) == 3  # 同名人, 同号人, and the two new rows sharing 13900002222
    assert sum(1 for a in db_bulk["audit"] if a[1] == "persons.person_registered") == 6
    assert db_bulk == db_one


def test_social_worker_becomes_the_worker_of_whom_they_register(db, home):
    worker = role_user("social_worker", "460106001")
    data = make_csv([HEAD, *good_rows(home)[:3]])
    (one_by_one, db_one), (bulk, db_bulk) = both_ways(data, worker, commit=True)
    assert one_by_one["committed"], one_by_one["errors"]
    assert bulk == one_by_one
    assert db_bulk == db_one
    assert all(p["assigned_worker_id"] is True for p in db_bulk["persons"].values())
    # registered ("+"), then assigned to the worker ("~"), as register_person does
    assert all([t for t, _v in rows] == ["+", "~"] for rows in db_bulk["history"].values())


def bad_rows(home):
    town = home.parent
    future = local_today() + dt.timedelta(days=3)
    return [
        [id_number(dt.date(1990, 1, 2), seq=31), "好人甲", "", "", "", home.code, "", "", ""],
        ["110101199003071232", "坏校验", "", "", "", home.code, "", "", ""],                  # checksum
        [id_number(dt.date(1990, 1, 3), seq=33), "坏电话", "", "", "139", home.code, "", "", ""],  # phone
        [id_number(dt.date(1990, 1, 4), seq=35), "", "", "", "", home.code, "", "", ""],          # name required
        [id_number(dt.date(1990, 1, 5), seq=37), "无此药", "", "", "", home.code, "不存在的药", "", ""],
        [id_number(dt.date(1990, 1, 6), seq=39), "别处人", "", "", "", "460105001001", "", "", ""],  # out of scope
        [id_number(dt.date(1990, 1, 7), seq=41), "镇级", "", "", "", town.code, "", "", ""],    # not a village
        [id_number(dt.date(1990, 1, 8), seq=43), "生日错", "", "1990-01-09", "", home.code, "", "", ""],
        [id_number(dt.date(1990, 1, 9), seq=45), "性别错", "女", "", "", home.code, "", "", ""],  # odd seq: male
        [id_number(dt.date(1990, 1, 10), seq=47), "未来", "", "", "", home.code, "", "", str(future)],
        [id_number(dt.date(1970, 2, 2), seq=49), "已登记", "", "", "", home.code, "", "", ""],   # elsewhere
        [OLD_15_AS_18, "重复甲", "", "", "", home.code, "", "", ""],
        [id_number(dt.date(1990, 1, 11), seq=51), "好人乙", "", "", "", home.code, "", "", ""],
        ["110101750812341", "重复乙", "", "", "", home.code, "", "", ""],                        # = OLD_15_AS_18
        [OLD_15_AS_18, "重复丙", "", "", "139", home.code, "", "", ""],                          # triple
        [id_number(dt.date(1990, 1, 12), seq=53), "日期坏", "", "", "", home.code, "", "2024-02-30", ""],
        [id_number(dt.date(1980, 3, 3), seq=55), "改电话", "", "", "13911112222", home.code, "", "", ""],  # update
    ]


@pytest.mark.parametrize("commit", [False, True])
@pytest.mark.parametrize("batch", [None, 3])
def test_bad_rows_get_the_same_errors_both_ways(town_user, home, commit, batch):
    make_person(village("460105001"), identity_number=id_number(dt.date(1970, 2, 2), seq=49), name="别处的人")
    make_person(home, identity_number=id_number(dt.date(1980, 3, 3), seq=55), name="改电话", phone="13900009999")
    data = make_csv([HEAD, *bad_rows(home)])
    (one_by_one, db_one), (bulk, db_bulk) = both_ways(data, town_user, commit=commit, batch=batch)
    assert bulk == one_by_one
    assert db_bulk == db_one
    errors = one_by_one["errors"]
    rows = {r for r, _c, _m in errors}
    assert rows == {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17}
    assert not one_by_one["committed"]
    assert one_by_one["counts"] == {"created": 2, "updated": 1, "unchanged": 0}
    text = " | ".join(m for _r, _c, m in errors)
    for expected in ("校验位", "不存在的药", "居住地须选择到村", "出生日期与身份证号码不一致", "性别与身份证号码不一致",
                     "发生日期不能晚于今天", "已登记", "与第 15、16 行重复", "与第 13、16 行重复", "与第 13、15 行重复"):
        assert expected in text, expected
    assert errors == sorted(errors, key=lambda e: e[0])


@pytest.mark.parametrize("batch", [None, 2])
def test_number_registered_meanwhile_is_named_on_its_row(town_user, home, monkeypatch, batch):
    """A number registered by someone else between the batch's look-up and its insert (here:
    the look-up made blind) breaks the batch's insert on the unique constraint; the batch is
    redone row by row, which names the row, and nothing is written. With batches of two the
    failing batch is the second, its look-up read ahead and its keys reserved ahead (on
    PostgreSQL its people are written by the import's writer thread)."""
    from jindu.persons.services import bulk_registry

    taken = id_number(dt.date(1970, 2, 2), seq=49)
    make_person(village("460105001"), identity_number=taken, name="别处的人")
    monkeypatch.setattr(bulk_registry, "registered_people", lambda digests: {})
    monkeypatch.setattr(bulk_registry, "look_up_registered", lambda digests: dict)
    rows = good_rows(home)[:2] + [[taken, "已登记", "", "", "", home.code, "", "", ""]]
    result = run(make_csv([HEAD, *rows]), town_user, bulk=True, commit=True, batch=batch)
    assert not result.committed
    assert [(e["row"], e["column"], e["message"]) for e in result.errors] == [
        (4, "证件号码", "该证件号码已登记（人员可能不在您的管辖范围内，请联系上级核实）")]
    assert result.counts["created"] == 2
    assert Person.objects.count() == 1


def test_commit_looks_each_batch_up_once_ahead(town_user, home, monkeypatch):
    """In the commit the next batch's numbers are looked up while the batch before is
    written (``PersonImporter.look_ahead``): one look-up per batch, and a number
    registered elsewhere is still refused on its row in a later batch."""
    from jindu.persons.services import bulk_registry

    taken = id_number(dt.date(1970, 2, 2), seq=49)
    make_person(village("460105001"), identity_number=taken, name="别处的人")
    calls = []
    original = bulk_registry.look_up_registered
    monkeypatch.setattr(bulk_registry, "look_up_registered", lambda digests: calls.append(1) or original(digests))
    rows = good_rows(home)[:5] + [[taken, "已登记", "", "", "", home.code, "", "", ""]]
    result = run(make_csv([HEAD, *rows]), town_user, bulk=True, commit=True, batch=2)
    assert [(e["row"], e["message"]) for e in result.errors] == [
        (7, "该证件号码已登记（人员可能不在您的管辖范围内，请联系上级核实）")]
    assert not result.committed and Person.objects.count() == 1
    assert len(calls) == 3  # three batches of two rows


def test_a_read_ahead_serves_only_the_rows_it_was_read_for(town_user, monkeypatch):
    from types import SimpleNamespace

    from jindu.persons.services import bulk_registry

    calls = []

    def look_up(digests):
        calls.append(set(digests))
        return lambda: {"a": [7]}

    monkeypatch.setattr(bulk_registry, "look_up_registered", look_up)
    state = get_importer("persons.person")._bulk_state(town_user)
    rows = [SimpleNamespace(key="1"), SimpleNamespace(key="2")]
    state.read_ahead(rows, {0: ["a"], 1: ["b"]})
    assert calls == [{"a", "b"}]  # handed over at once
    assert state.digests(rows[1:], lambda rows: pytest.fail("computed again")) == {0: ["b"]}
    assert state.registered(rows[:1], {"a"}) == {"a": [7]} and len(calls) == 1  # read ahead
    assert state.registered(rows[:1], {"a"}) == {"a": [7]} and len(calls) == 2  # used up: asked again
    assert state.digests(rows, lambda rows: {0: ["new"]}) == {0: ["new"]}  # used up: computed again
    state.read_ahead(rows, {0: ["a"]})
    state.registered([SimpleNamespace(key="3")], {"a"})  # other rows (a run that stopped half-way): asked again
    state.read_ahead(rows, {0: ["a"]})
    state.registered(rows, {"a", "c"})  # a number not read ahead: asked again
    assert len(calls) == 6


def plain_row(seq, name, home, born=dt.date(1990, 1, 1)):
    return [id_number(born, seq=seq), name, "", "", "", home.code, "", "", ""]


on_postgresql = pytest.mark.skipif("connection.vendor != 'postgresql'",
                                   reason="the import's writer thread and its key reservations are PostgreSQL's")


@on_postgresql
def test_a_batch_redone_row_by_row_leaves_no_history_of_its_first_try(town_user, home, monkeypatch):
    """The second batch's people fail to be written (injected: its reserved keys made
    equal, the failure a lock timeout or a clash with a registration later rolled back
    would give) and the batch is redone row by row, which succeeds: the history rows of
    the first try, kept for the writer, go with the rollback."""
    from jindu.core.imports import bulk as core_bulk

    calls = []
    original = core_bulk.KeyPool.take

    def take(self, counts):
        out = original(self, counts)
        calls.append(1)
        if len(calls) == 2:
            out[Person] = [out[Person][0]] * len(out[Person])
        return out

    monkeypatch.setattr(core_bulk.KeyPool, "take", take)
    rows = [plain_row(71, "甲一", home), plain_row(73, "乙二", home), plain_row(75, "丙三", home),
            plain_row(77, "丁四", home)]
    result = run(make_csv([HEAD, *rows]), town_user, bulk=True, commit=True, batch=2)
    assert result.committed, result.errors
    assert len(calls) == 2 and Person.objects.count() == 4
    assert not Person.history.exclude(id__in=Person.objects.values("pk")).exists()
    assert sorted(Person.history.values_list("name", flat=True)) == ["丁四", "丙三", "乙二", "甲一"]


@on_postgresql
@pytest.mark.parametrize("reserve_ahead", [False, True])
def test_a_near_duplicate_registered_during_the_import_is_proposed(town_user, home, monkeypatch, reserve_ahead):
    """Someone registers a person of the same name and birth date while the import runs,
    after the next batch's keys were reserved: the imported person is proposed as their
    duplicate although its key is the lower one."""
    from jindu.core.imports import bulk as core_bulk
    from jindu.persons.importers import PersonImporter

    if not reserve_ahead:
        monkeypatch.setattr(core_bulk.KeyPool, "reserve", lambda self, counts: None)
    born = dt.date(1979, 6, 1)
    meanwhile = {}
    original = PersonImporter.look_ahead

    def look_ahead(self, rows, *, user):
        original(self, rows, user=user)
        if not meanwhile:
            meanwhile["person"] = make_person(home, identity_number=id_number(born, seq=21), name="同名人",
                                              birth_date=born, sex="M")

    monkeypatch.setattr(PersonImporter, "look_ahead", look_ahead)
    rows = [plain_row(81, "甲一", home), plain_row(83, "乙二", home), plain_row(13, "同名人", home, born=born)]
    result = run(make_csv([HEAD, *rows]), town_user, bulk=True, commit=True, batch=2)
    assert result.committed, result.errors
    earlier = meanwhile["person"]
    imported = Person.objects.exclude(pk=earlier.pk).get(name="同名人")
    assert (imported.pk < earlier.pk) == reserve_ahead
    assert list(MergeProposal.objects.values_list("keep_id", "duplicate_id")) == [(earlier.pk, imported.pk)]


@on_postgresql
def test_a_failed_look_ahead_fails_the_import_as_a_whole(town_user, home, monkeypatch):
    """The next batch's key reservation fails in the writer (a statement timeout, a
    cancel): handed over between batches, outside their savepoints, it cannot be undone by
    one, so the import fails whole with the writer's message and nothing is kept."""
    from jindu.core.imports import bulk as core_bulk
    from jindu.core.imports.pipeline import DeferredWriteError

    calls = []
    original = core_bulk._reserve_sql

    def reserve_sql(counts):
        calls.append(1)
        if len(calls) == 2:  # 1: the first batch's keys (none reserved yet); 2: the look-ahead's
            return "SELECT ARRAY[1 / 0], ARRAY[1 / 0], ARRAY[1 / 0]", []
        return original(counts)

    monkeypatch.setattr(core_bulk, "_reserve_sql", reserve_sql)
    rows = [plain_row(91, "甲一", home), plain_row(93, "乙二", home), plain_row(95, "丙三", home)]
    with pytest.raises(DeferredWriteError):
        run(make_csv([HEAD, *rows]), town_user, bulk=True, commit=True, batch=2)
    assert Person.objects.count() == 0
