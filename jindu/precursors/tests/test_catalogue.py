"""The shipped chemical catalogue loader: idempotent, a changed row updated with history, a
row that left the list deactivated (never deleted), and the post-migrate hook harmless when
the app's tables are not there (``migrate precursors zero``)."""

from datetime import date
from decimal import Decimal

from jindu.precursors import loaders
from jindu.precursors.choices import Direction
from jindu.precursors.models import Chemical
from jindu.precursors.tests.factories import EnterpriseFactory, chemical, entry


def test_loading_twice_changes_nothing():
    rows = loaders.catalogue_rows()
    assert loaders.load_catalogue() == {"created": 0, "updated": 0, "deactivated": 0}
    assert Chemical.objects.count() == len(rows) and not Chemical.objects.filter(is_active=False).exists()
    acid = chemical("硫酸")
    assert (acid.category, acid.typical_density_kg_per_l, acid.is_pharmaceutical) == (3, Decimal("1.8400"), False)
    assert chemical("麻黄素（麻黄碱）").is_pharmaceutical  # starred in the annex


def test_a_changed_row_is_updated_with_history(monkeypatch):
    rows = loaders.catalogue_rows()
    for row in rows:
        if row["name_zh"] == "硫酸":
            row["name_en"] = "Sulphuric acid (revised)"
            row["typical_density_kg_per_l"] = Decimal("1.8300")
    monkeypatch.setattr(loaders, "catalogue_rows", lambda: rows)
    before = chemical("硫酸").history.count()
    assert loaders.load_catalogue() == {"created": 0, "updated": 1, "deactivated": 0}
    acid = chemical("硫酸")
    assert (acid.name_en, acid.typical_density_kg_per_l) == ("Sulphuric acid (revised)", Decimal("1.8300"))
    assert acid.history.count() == before + 1
    assert acid.history.order_by("history_id")[before - 1].typical_density_kg_per_l == Decimal("1.8400")


def test_a_row_that_left_the_list_is_deactivated_not_deleted(monkeypatch):
    ent = EnterpriseFactory()
    used = entry(ent, "高锰酸钾", Direction.IN, "5", occurred_on=date(2026, 1, 2))
    rows = [r for r in loaders.catalogue_rows() if r["name_zh"] != "高锰酸钾"]
    monkeypatch.setattr(loaders, "catalogue_rows", lambda: rows)
    assert loaders.load_catalogue() == {"created": 0, "updated": 0, "deactivated": 1}
    gone = chemical("高锰酸钾")
    assert not gone.is_active and used.chemical_id == gone.pk
    assert loaders.load_catalogue()["deactivated"] == 0  # idempotent in that state too
    monkeypatch.undo()
    assert loaders.load_catalogue() == {"created": 0, "updated": 1, "deactivated": 0}  # listed again
    assert chemical("高锰酸钾").is_active


def test_a_new_row_is_created(monkeypatch):
    rows = loaders.catalogue_rows()
    rows.append({**rows[-1], "name_zh": "4-哌啶酮", "name_en": "4-Piperidone", "cas_number": "41661-47-6",
                 "category": 2, "typical_density_kg_per_l": None, "density_source": ""})
    monkeypatch.setattr(loaders, "catalogue_rows", lambda: rows)
    assert loaders.load_catalogue() == {"created": 1, "updated": 0, "deactivated": 0}
    assert chemical("4-哌啶酮").category == 2


def test_post_migrate_hook_skips_when_the_tables_are_absent(monkeypatch):
    from django.db import connections

    calls = []
    monkeypatch.setattr(loaders, "load_catalogue", lambda **kw: calls.append(kw))
    monkeypatch.setattr(connections["default"].introspection, "table_names",
                        lambda *a, **kw: ["django_migrations"])
    loaders.sync_after_migrate(using="default", app_config=None)
    assert calls == []
    monkeypatch.undo()
    monkeypatch.setattr(loaders, "load_catalogue", lambda **kw: calls.append(kw))
    loaders.sync_after_migrate(using="default", app_config=None)
    assert calls == [{"using": "default"}]
