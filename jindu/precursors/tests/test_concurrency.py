"""Two simultaneous outbound movements on one balance cannot overdraw it (the balance row is
locked ``FOR UPDATE`` by the posting service). PostgreSQL only.

Real concurrency needs committed rows seen by several connections, so this test runs outside
the per-test transaction and removes its own rows (``transaction=True`` would flush the
session's divisions; same pattern as ``geo/tests/test_grids.py``).
"""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from jindu.core.testing import grant, make_user, no_committed_trail
from jindu.precursors import services
from jindu.precursors.choices import Direction
from jindu.precursors.loaders import load_catalogue
from jindu.precursors.models import LedgerEntry, StockBalance
from jindu.precursors.tests.factories import EnterpriseFactory, chemical, entry

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="row locks need PostgreSQL: SQLite's shared in-memory test database "
                                       "refuses a second writer instead of waiting")


@pytest.fixture
def _catalogue():
    """Overrides the directory's per-test catalogue fixture (which needs the per-test
    transaction); the committed fixture below loads it itself."""


@pytest.fixture
def stocked(django_db_setup, django_db_blocker):
    """A committed enterprise holding 100 kg of sulphuric acid, and a committed regulator."""
    from jindu.accounts.models import RoleAssignment, User
    from jindu.precursors.models import Enterprise

    with django_db_blocker.unblock(), no_committed_trail():
        load_catalogue()
        user = make_user(username="precursor-race")
        grant(user, "regulator", "460106")
        ent = EnterpriseFactory(name="并发测试化工有限公司")
        entry(ent, "硫酸", Direction.IN, "100", occurred_on=date(2026, 1, 2))
        yield user, ent
        LedgerEntry.objects.filter(enterprise=ent).delete()
        StockBalance.objects.filter(enterprise=ent).delete()
        Enterprise.objects.filter(pk=ent.pk).delete()
        RoleAssignment.objects.filter(user=user).delete()
        User.objects.filter(pk=user.pk).delete()


def test_two_simultaneous_outbounds_cannot_overdraw(stocked, django_db_blocker, monkeypatch):
    user, ent = stocked
    # Hold each posting just after it has locked its balance row until the other posting has
    # locked it too, or one second has passed. With a real row lock the second posting waits
    # for the first to commit (the gate times out); without one both would read 100 kg here
    # and both would succeed.
    real_lock = services._lock_balances
    gate = threading.Barrier(2)

    def lock_then_wait(pairs):
        rows = real_lock(pairs)
        try:
            gate.wait(timeout=1)
        except threading.BrokenBarrierError:
            pass
        return rows

    monkeypatch.setattr(services, "_lock_balances", lock_then_wait)
    with django_db_blocker.unblock():
        acid = chemical("硫酸")
    start = threading.Barrier(2)
    outcomes: list = [None, None]

    def worker(i):
        try:
            start.wait(timeout=10)
            services.post_entry(user=user, enterprise=ent, data={
                "chemical": acid, "occurred_on": date(2026, 1, 3), "direction": Direction.OUT,
                "quantity_entered": Decimal("60"), "unit_entered": "kg", "document_number": f"并发{i}"})
            outcomes[i] = "posted"
        except ValidationError as exc:
            outcomes[i] = "refused: " + exc.messages[0]
        except Exception as exc:  # reported by the assertion below
            outcomes[i] = repr(exc)
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(o.split(":")[0] for o in outcomes) == ["posted", "refused"], outcomes
        refusal = next(o for o in outcomes if o.startswith("refused"))
        assert "硫酸" in refusal and "当前结存 40 千克" in refusal and "60 千克" in refusal
        outbound = LedgerEntry.objects.filter(enterprise=ent, direction=Direction.OUT)
        assert [e.balance_after_kg for e in outbound] == [Decimal("40.000")]
        assert StockBalance.objects.get(enterprise=ent, chemical=acid).quantity_kg == Decimal("40.000")


@pytest.mark.django_db
def test_posting_locks_the_balance_row_in_sql(django_db_blocker):
    """The statement behind the test above: each posting reads its balance ``FOR UPDATE``,
    bulk postings in (enterprise, chemical) order. (This test also makes pytest-django set up
    the test database when the module runs alone: the committed fixture above carries no
    ``django_db`` mark.)"""
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    load_catalogue()
    ent = EnterpriseFactory()
    with CaptureQueriesContext(conn) as ctx:
        services.post_entries(user=None, source="demo", rows=[
            {"enterprise": ent, "chemical": chemical(name), "occurred_on": date(2026, 1, 3),
             "direction": Direction.IN, "quantity_entered": Decimal("1")} for name in ("盐酸", "硫酸")])
    locks = [q["sql"] for q in ctx.captured_queries
             if '"precursors_stockbalance"' in q["sql"] and q["sql"].rstrip().endswith("FOR UPDATE")]
    assert len(locks) == 1 and 'ORDER BY "precursors_stockbalance"."enterprise_id" ASC, ' \
                               '"precursors_stockbalance"."chemical_id" ASC' in locks[0]
    with CaptureQueriesContext(conn) as ctx:
        services.post_entry(user=None, enterprise=ent, data={
            "chemical": chemical("硫酸"), "occurred_on": date(2026, 1, 4), "direction": Direction.OUT,
            "quantity_entered": Decimal("1")})
    assert any('"precursors_stockbalance"' in q["sql"] and q["sql"].rstrip().endswith("FOR UPDATE")
               for q in ctx.captured_queries)
