"""The reconciliation engine: re-runs do not duplicate, closed findings stay closed, a fixed
problem is no longer detected, voided entries and entries after the reconciliation date are
ignored; incremental runs check only the touched pairs, re-judge only what can have changed
and agree with full runs (also for the rules over a pair's whole history, runs for a past
date and postings during a run); the management command and the job; the shared ledger
pass."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from jindu.precursors.choices import Direction, DiscrepancyStatus, LicenceKind
from jindu.precursors.models import Discrepancy, LedgerEntry, ReconciliationRun
from jindu.precursors.reconciliation import RULES, codes
from jindu.precursors.reconciliation.months import rebuild_ledger_months
from jindu.precursors.tests.factories import EnterpriseFactory, chemical, entry
from jindu.precursors.tests.reconciliation_helpers import (
    ACETONE,
    ANHYDRIDE,
    AS_OF,
    SULPHURIC,
    D,
    count,
    entry_ids,
    found,
    keys,
    licence,
    monthly_outbound,
    reconcile,
)

pytestmark = pytest.mark.django_db


class TestEngine:
    def test_rerun_does_not_duplicate(self, seller, buyer):
        entry(seller, ANHYDRIDE, Direction.OUT, "50", D, counterparty=buyer)
        first = reconcile()
        n = Discrepancy.objects.count()
        assert n >= 3 and first.raised == n and first.finished_at and first.pairs_checked == 1
        second = reconcile()
        assert Discrepancy.objects.count() == n and second.raised == 0

    def test_closed_findings_are_not_reopened(self, seller, buyer):
        entry(seller, ANHYDRIDE, Direction.OUT, "50", D, counterparty=buyer)
        reconcile()
        d = found(codes.SALE_TO_UNLICENSED)[0]
        Discrepancy.objects.filter(pk=d.pk).update(status=DiscrepancyStatus.CLOSED)
        reconcile()
        d.refresh_from_db()
        assert d.status == DiscrepancyStatus.CLOSED
        assert Discrepancy.objects.filter(rule=codes.SALE_TO_UNLICENSED).count() == 1

    def test_a_fixed_problem_is_no_longer_detected_and_comes_back_if_it_returns(self, buyer):
        e = entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty_name="甲")
        reconcile()
        [d] = found(codes.PURCHASE_UNLICENSED)
        lic = licence(buyer, LicenceKind.PURCHASE_FILING, SULPHURIC)
        reconcile()
        d.refresh_from_db()
        assert d.still_detected is False and d.status == DiscrepancyStatus.OPEN
        lic.lines.all().delete()
        reconcile()
        d.refresh_from_db()
        assert d.still_detected is True and entry_ids(d) == {e.pk}

    def test_voided_entries_are_ignored(self, seller, buyer):
        for name, direction in ((SULPHURIC, Direction.IN), (ANHYDRIDE, Direction.OUT)):
            e = entry(buyer if direction == Direction.IN else seller, name, direction, "100", D,
                      counterparty=seller if direction == Direction.IN else buyer, expires_on=D)
            LedgerEntry.objects.filter(pk=e.pk).update(voided_at=timezone.now(), void_reason="录入错误")
        # A write bypassing the ORM: the monthly summary is repaired with its rebuild tool.
        rebuild_ledger_months()
        reconcile()
        assert not Discrepancy.objects.exists()

    def test_entries_after_as_of_are_ignored(self, buyer):
        entry(buyer, SULPHURIC, Direction.IN, "100", AS_OF + timedelta(days=1), counterparty_name="甲")
        reconcile()
        assert not Discrepancy.objects.exists()

    def test_incremental_checks_only_touched_pairs_and_agrees_with_full(self, seller, buyer):
        third = EnterpriseFactory()
        entry(third, SULPHURIC, Direction.IN, "100", D, counterparty_name="甲")
        entry(seller, ANHYDRIDE, Direction.OUT, "50", D, counterparty=buyer)
        reconcile()
        before = {d.pk: d.history.count() for d in Discrepancy.objects.all()}
        # New: an inbound at the buyer matching the seller's outbound (both pairs touched),
        # and a new unlicensed purchase at the third enterprise.
        entry(buyer, ANHYDRIDE, Direction.IN, "50", D + timedelta(days=1), counterparty=seller)
        new = entry(third, ACETONE, Direction.IN, "5", D, counterparty_name="乙")
        run = reconcile(mode="incremental")
        assert run.mode == "incremental" and run.pairs_checked == 3
        assert not found(codes.TRANSFER_NO_INBOUND)
        assert any(entry_ids(d) == {new.pk} for d in found(codes.PURCHASE_UNLICENSED))
        # The untouched pair's finding was not rewritten.
        untouched = Discrepancy.objects.get(rule=codes.PURCHASE_UNLICENSED, chemical=chemical(SULPHURIC))
        assert untouched.history.count() == before[untouched.pk] and untouched.still_detected
        incremental = keys()
        reconcile(mode="full")
        assert keys() == incremental

    def test_incremental_matching_rejudges_from_the_new_entrys_day(self, seller, buyer):
        """Matching is one finding per entry: a new entry re-judges the transfers within its
        window on both sides, not the whole month of a busy pair (and does not clear what
        it did not re-judge)."""
        early = entry(seller, ANHYDRIDE, Direction.OUT, "50", date(2026, 3, 2), counterparty=buyer)
        reconcile()
        [missing] = found(codes.TRANSFER_NO_INBOUND)
        assert entry_ids(missing) == {early.pk}
        history = missing.history.count()
        # Later in March: the buyer books a delivery of the 20th, and the seller its outbound.
        entry(seller, ANHYDRIDE, Direction.OUT, "30", date(2026, 3, 20), counterparty=buyer)
        entry(buyer, ANHYDRIDE, Direction.IN, "30", date(2026, 3, 21), counterparty=seller)
        run = reconcile(mode="incremental")
        assert run.pairs_checked == 2
        [still] = found(codes.TRANSFER_NO_INBOUND)
        assert still.pk == missing.pk and still.history.count() == history  # not re-judged, not cleared
        assert not found(codes.TRANSFER_NO_OUTBOUND)  # the new inbound found its outbound
        # An inbound back-dated into the early outbound's window: the outbound is matched now.
        entry(buyer, ANHYDRIDE, Direction.IN, "50", date(2026, 3, 4), counterparty=seller)
        reconcile(mode="incremental")
        assert not found(codes.TRANSFER_NO_INBOUND)
        incremental = keys()
        reconcile(mode="full")
        assert keys() == incremental

    def test_incremental_leaves_a_month_alone_when_its_new_entries_are_clean(self, buyer):
        """A covered purchase posted into a month where the same pair already has a finding
        (purchases after its filing lapsed) leaves that finding as it was: the month is not
        re-judged, and not found "no longer detected" either."""
        licence(buyer, LicenceKind.PURCHASE_FILING, SULPHURIC, valid_until=D + timedelta(days=2))
        late = entry(buyer, SULPHURIC, Direction.IN, "100", D + timedelta(days=5), counterparty_name="甲")
        reconcile()
        [finding] = found(codes.PURCHASE_AFTER_EXPIRY)
        history = finding.history.count()
        entry(buyer, SULPHURIC, Direction.IN, "40", D + timedelta(days=1), counterparty_name="甲")  # covered
        run = reconcile(mode="incremental")
        assert run.pairs_checked == 1
        [same] = found(codes.PURCHASE_AFTER_EXPIRY)
        assert same.pk == finding.pk and same.history.count() == history and entry_ids(same) == {late.pk}
        # A second purchase after the lapse in that month: the month is read again, whole.
        again = entry(buyer, SULPHURIC, Direction.IN, "70", D + timedelta(days=9), counterparty_name="甲")
        reconcile(mode="incremental")
        [month] = found(codes.PURCHASE_AFTER_EXPIRY)
        assert month.pk == finding.pk and entry_ids(month) == {late.pk, again.pk} and month.details["entries"] == 2
        incremental = {(d.rule, d.fingerprint, d.summary) for d in found(codes.PURCHASE_AFTER_EXPIRY)}
        reconcile(mode="full")
        assert {(d.rule, d.fingerprint, d.summary) for d in found(codes.PURCHASE_AFTER_EXPIRY)} == incremental

    def test_incremental_leaves_the_other_sides_history_rules_alone(self, seller, buyer):
        """A transfer to the buyer touches the buyer's pair for matching only: its own
        entries and months did not change, so the rules over its whole history (here its
        negative balance) are not judged again — the finding stays as it was, neither
        rewritten nor found "no longer detected"."""
        entry(buyer, ANHYDRIDE, Direction.USED, "20", D)
        entry(seller, ANHYDRIDE, Direction.IN, "80", D, counterparty_name="甲")
        reconcile()
        [negative] = found(codes.NEGATIVE_BALANCE)
        history = negative.history.count()
        sale = entry(seller, ANHYDRIDE, Direction.OUT, "50", D + timedelta(days=3), counterparty=buyer)
        run = reconcile(mode="incremental")
        assert run.pairs_checked == 2
        [same] = found(codes.NEGATIVE_BALANCE)
        assert same.pk == negative.pk and same.still_detected and same.history.count() == history
        assert any(entry_ids(d) == {sale.pk} for d in found(codes.TRANSFER_NO_INBOUND))
        incremental = keys()
        reconcile(mode="full")
        assert keys() == incremental

    def test_incremental_run_keeps_older_months_and_completes_the_touched_month(self, buyer):
        # Unlicensed purchases of one pair in January and in March; a new one in March.
        entry(buyer, ACETONE, Direction.IN, "5", date(2026, 1, 12), counterparty_name="甲")
        entry(buyer, ACETONE, Direction.IN, "5", D, counterparty_name="甲")
        reconcile()
        new = entry(buyer, ACETONE, Direction.IN, "7", D + timedelta(days=5), counterparty_name="甲")
        reconcile(mode="incremental")
        by_month = {d.fingerprint[-7:]: d for d in found(codes.PURCHASE_UNLICENSED)}
        # January was not re-read, and is still detected; March counts both of its entries.
        assert set(by_month) == {"2026-01", "2026-03"}
        assert by_month["2026-03"].details["entries"] == 2 and new.pk in entry_ids(by_month["2026-03"])
        incremental = {(d.rule, d.fingerprint, d.summary) for d in found(codes.PURCHASE_UNLICENSED)}
        reconcile(mode="full")
        assert {(d.rule, d.fingerprint, d.summary) for d in found(codes.PURCHASE_UNLICENSED)} == incremental

    def test_incremental_sees_a_voided_entry_and_its_other_side(self, seller, buyer):
        from jindu.core.testing import grant, make_user
        from jindu.precursors import services

        licence(buyer, LicenceKind.PURCHASE_FILING, SULPHURIC)
        wrong = entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty=seller)  # seller never shipped
        bad = entry(buyer, ACETONE, Direction.IN, "100", D, counterparty_name="甲")  # no filing for acetone
        reconcile()
        assert found(codes.PURCHASE_UNLICENSED) and found(codes.TRANSFER_NO_OUTBOUND)
        regulator = make_user()
        grant(regulator, "regulator", "460106")
        services.void_entry(user=regulator, entry=bad, reason="重复录入")
        services.void_entry(user=regulator, entry=wrong, reason="录错供货单位")
        run = reconcile(mode="incremental")
        assert run.pairs_checked == 3  # the buyer's two pairs, and the seller's through the voided entry
        assert not found(codes.PURCHASE_UNLICENSED) and not found(codes.TRANSFER_NO_OUTBOUND)

    def test_incremental_sees_a_new_licence_of_the_buyer(self, seller, buyer):
        entry(seller, ANHYDRIDE, Direction.OUT, "50", D, counterparty=buyer)
        reconcile()
        assert found(codes.SALE_TO_UNLICENSED)
        licence(buyer, LicenceKind.PURCHASE_FILING, ANHYDRIDE)
        reconcile(mode="incremental")
        assert not found(codes.SALE_TO_UNLICENSED)

    def test_first_incremental_run_is_full(self, buyer):
        entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty_name="甲")
        run = reconcile(mode="incremental")
        assert run.mode == "full" and found(codes.PURCHASE_UNLICENSED)

    def test_run_is_audited_and_counted(self, buyer):
        from jindu.core.models import AuditEvent

        entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty_name="甲")
        run = reconcile()
        event = AuditEvent.objects.get(action="precursors.reconciliation_run")
        assert event.target_id == str(run.pk) and event.changes["created"] == run.raised
        assert run.stats["findings"][codes.PURCHASE_UNLICENSED] == 1
        d = found(codes.PURCHASE_UNLICENSED)[0]
        assert d.detected_by_run == run


class TestIncrementalHistoryRules:
    """The rules over a pair's whole history in an incremental run: ``recon_month`` holds the
    touched pairs' months from their ``since_day``; the earlier months come from the
    summary, and the statistical screen's pre-test and the expired-lot totals from the
    per-pair figures (``LedgerPair``) — what they find equals a full run."""

    def test_a_spike_posted_today_is_found_and_agrees_with_full(self, buyer):
        monthly_outbound(buyer, ACETONE, [100, 110, 95, 105, 100, 98, 102])  # June to December 2025
        as_of = date(2026, 1, 31)
        reconcile(as_of=as_of)
        assert not found(codes.UNUSUAL_OUTBOUND)
        entry(buyer, ACETONE, Direction.USED, "1000", date(2026, 1, 20))
        reconcile(as_of=as_of, mode="incremental")
        [d] = found(codes.UNUSUAL_OUTBOUND)
        assert d.occurred_on == date(2026, 1, 1) and d.details["months"] == 8
        incremental = keys()
        reconcile(as_of=as_of)
        assert keys() == incremental

    def test_an_inbound_leaves_the_screen_and_a_later_outbound_can_clear_it(self, buyer):
        monthly_outbound(buyer, ACETONE, [100, 110, 95, 105, 100, 98, 102, 1000])  # the spike in January
        as_of = date(2026, 2, 28)
        reconcile(as_of=as_of)
        [d] = found(codes.UNUSUAL_OUTBOUND)
        history = d.history.count()
        entry(buyer, ACETONE, Direction.IN, "500", date(2026, 2, 3))
        reconcile(as_of=as_of, mode="incremental")
        [same] = found(codes.UNUSUAL_OUTBOUND)
        assert same.pk == d.pk and same.history.count() == history
        # Enough months as large as January: it is not unusual any more.
        for day in (4, 5, 6, 7, 8, 9, 10, 11):
            entry(buyer, ACETONE, Direction.USED, "1000", date(2025, day, 20))
        reconcile(as_of=as_of, mode="incremental")
        assert not found(codes.UNUSUAL_OUTBOUND)
        assert Discrepancy.objects.get(pk=d.pk).still_detected is False
        incremental = keys()
        reconcile(as_of=as_of)
        assert keys() == incremental

    def test_entries_after_as_of_are_left_out_of_the_pairs_figures(self, buyer):
        """A pair with entries dated after the reconciliation date is judged from its months
        up to it (its per-pair figures include the later ones)."""
        monthly_outbound(buyer, ACETONE, [100, 110, 95, 105, 100, 98, 102])
        lot = entry(buyer, SULPHURIC, Direction.IN, "100", date(2025, 12, 1), expires_on=date(2026, 1, 10))
        as_of = date(2026, 1, 31)
        reconcile(as_of=as_of)
        assert found(codes.EXPIRED_NOT_DESTROYED)
        entry(buyer, ACETONE, Direction.USED, "1000", date(2026, 1, 20))
        entry(buyer, SULPHURIC, Direction.IN, "5", date(2026, 1, 25), expires_on=date(2027, 1, 1))
        # Later than as_of: months that would make January ordinary if they counted, and the
        # expired lot used up.
        for m in (2, 3, 4, 5, 6, 7, 8, 9):
            entry(buyer, ACETONE, Direction.USED, "1000", date(2026, m, 10))
        entry(buyer, SULPHURIC, Direction.USED, "100", date(2026, 3, 1))
        reconcile(as_of=as_of, mode="incremental")
        assert [d.occurred_on for d in found(codes.UNUSUAL_OUTBOUND)] == [date(2026, 1, 1)]
        [expired] = found(codes.EXPIRED_NOT_DESTROYED)
        assert entry_ids(expired) == {lot.pk} and expired.details["remaining_kg"] == "100.000"
        incremental = keys()
        reconcile(as_of=as_of)
        assert keys() == incremental

    def test_an_earlier_negative_episode_stays_and_a_new_one_is_found(self, buyer):
        entry(buyer, ACETONE, Direction.USED, "10", date(2026, 1, 5))  # negative in January
        entry(buyer, ACETONE, Direction.IN, "100", date(2026, 2, 1))
        reconcile()
        [january] = found(codes.NEGATIVE_BALANCE)
        history = january.history.count()
        over = entry(buyer, ACETONE, Direction.USED, "95", date(2026, 5, 4))  # 90 on hand
        reconcile(mode="incremental")
        by_day = {d.occurred_on: d for d in found(codes.NEGATIVE_BALANCE)}
        assert set(by_day) == {date(2026, 1, 5), date(2026, 5, 4)} and entry_ids(by_day[date(2026, 5, 4)]) == {over.pk}
        assert by_day[date(2026, 1, 5)].pk == january.pk and january.history.count() == history
        incremental = keys()
        reconcile()
        assert keys() == incremental

    def test_an_expired_lot_used_up_is_no_longer_detected(self, buyer):
        entry(buyer, SULPHURIC, Direction.IN, "100", D, expires_on=date(2026, 5, 1))
        entry(buyer, SULPHURIC, Direction.IN, "100", D + timedelta(days=10), expires_on=date(2027, 5, 1))
        reconcile()
        [d] = found(codes.EXPIRED_NOT_DESTROYED)
        entry(buyer, SULPHURIC, Direction.USED, "60", date(2026, 6, 2))
        reconcile(mode="incremental")
        [same] = found(codes.EXPIRED_NOT_DESTROYED)
        assert same.pk == d.pk and same.details["remaining_kg"] == "40.000"
        entry(buyer, SULPHURIC, Direction.DESTROYED, "40", date(2026, 6, 3))
        reconcile(mode="incremental")
        assert not found(codes.EXPIRED_NOT_DESTROYED)
        incremental = keys()
        reconcile()
        assert keys() == incremental


    def test_a_stock_count_leaves_the_ledger_history_rules_alone(self, buyer):
        """Counts and licences change no balance, lot or monthly movement: a pair touched
        only by a stock count has its count judged, not its history read again."""
        monthly_outbound(buyer, ACETONE, [100, 110, 95, 105, 100, 98, 102, 1000])
        entry(buyer, ACETONE, Direction.USED, "200000", date(2026, 2, 2))  # goes negative
        as_of = date(2026, 2, 28)
        reconcile(as_of=as_of)
        before = {d.pk: d.history.count() for d in Discrepancy.objects.all()}
        assert found(codes.UNUSUAL_OUTBOUND) and found(codes.NEGATIVE_BALANCE)
        count(buyer, ACETONE, date(2026, 2, 27), "5")
        reconcile(as_of=as_of, mode="incremental")
        [mismatch] = found(codes.STOCK_COUNT_MISMATCH)
        assert {d.pk: d.history.count() for d in Discrepancy.objects.exclude(pk=mismatch.pk)} == before
        incremental = keys()
        reconcile(as_of=as_of)
        assert keys() == incremental

    def test_an_episode_after_as_of_is_cleared_as_in_a_full_run(self, buyer):
        """A run for an earlier date than the last: the episode dated after it was re-judged
        (the month of as_of on), so it is found no longer detected, as a full run finds."""
        entry(buyer, ACETONE, Direction.IN, "100", date(2026, 1, 5), counterparty_name="甲")
        entry(buyer, ACETONE, Direction.USED, "150", date(2026, 5, 5))  # negative on 5 May
        reconcile(as_of=date(2026, 6, 30))
        [d] = found(codes.NEGATIVE_BALANCE)
        entry(buyer, ACETONE, Direction.IN, "100", date(2026, 6, 10), counterparty_name="甲")
        reconcile(as_of=date(2026, 3, 31), mode="incremental")
        assert Discrepancy.objects.get(pk=d.pk).still_detected is False

    def test_a_posting_during_a_run_for_a_past_date_does_not_lose_the_pair(self, buyer, monkeypatch):
        """Another session posts an entry dated after as_of while the run is under way: the
        pair's figures and its months are read once, so it is judged either way."""
        from jindu.precursors.reconciliation import engine

        monthly_outbound(buyer, ACETONE, [100] * 8 + [1000], start=date(2025, 1, 1))  # spike in September
        as_of = date(2025, 10, 31)
        reconcile(as_of=as_of)
        [d] = found(codes.UNUSUAL_OUTBOUND)
        entry(buyer, ACETONE, Direction.IN, "5", date(2025, 10, 3))  # touches the pair, not its movements
        build_pass = engine._build_pass

        def posting_meanwhile(ctx):
            entry(buyer, ACETONE, Direction.USED, "5", date(2025, 12, 3))
            return build_pass(ctx)

        monkeypatch.setattr(engine, "_build_pass", posting_meanwhile)
        reconcile(as_of=as_of, mode="incremental")
        assert Discrepancy.objects.get(pk=d.pk).still_detected is True

    def test_every_rule_is_rejudged_by_exactly_one_scope_day(self):
        from jindu.precursors.reconciliation import engine

        groups = (engine.MATCHING_RULES, engine.MONTHLY_RULES, engine.COUNT_RULES, engine.BALANCE_RULES,
                  engine.LICENCE_HISTORY_RULES, engine.LEDGER_HISTORY_RULES)
        assert sum(len(g) for g in groups) == len(RULES) and set().union(*groups) == set(RULES)


def test_planner_settings_do_not_hide_a_failing_statement():
    """(PostgreSQL) A statement failing inside ``Context.planner_off`` in a transaction is the
    error raised — not the aborted transaction's refusal of the settings' reset."""
    from django.db import DatabaseError, transaction

    from jindu.precursors.reconciliation.base import Context

    ctx = Context(as_of=AS_OF)
    with pytest.raises(DatabaseError) as info:
        with transaction.atomic(), ctx.planner_off("hashjoin", "mergejoin"):
            ctx.execute("SELECT * FROM recon_no_such_table")
    assert "recon_no_such_table" in str(info.value)


class TestCommandAndJob:
    def test_management_command_full_then_incremental(self, buyer, capsys):
        from django.core.management import call_command

        entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty_name="甲")
        call_command("reconcile_precursors", "--as-of", AS_OF.isoformat())
        out = capsys.readouterr().out
        assert "reconciliation full as of 2026-06-30: 1 pairs checked" in out
        assert f"{codes.PURCHASE_UNLICENSED}: 1" in out
        entry(buyer, ACETONE, Direction.IN, "100", D, counterparty_name="甲")
        call_command("reconcile_precursors", "--incremental", "--as-of", AS_OF.isoformat())
        out = capsys.readouterr().out
        assert "reconciliation incremental as of 2026-06-30: 1 pairs checked" in out
        assert len(found(codes.PURCHASE_UNLICENSED)) == 2

    def test_management_command_refuses_a_bad_date(self):
        from django.core.management import CommandError, call_command

        with pytest.raises(CommandError):
            call_command("reconcile_precursors", "--as-of", "2026-13-01")

    def test_job_records_its_result(self, buyer):
        from jindu.core.models import Job
        from jindu.precursors.tasks import KIND
        from jindu.precursors.tasks import reconcile as reconcile_job

        entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty_name="甲")
        job = Job.objects.create(kind=KIND, title="闭环核对", params={"mode": "full", "as_of": AS_OF.isoformat()})
        reconcile_job.call(job.pk)
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED
        assert job.result["raised"] == 1 and job.result["findings"] == {codes.PURCHASE_UNLICENSED: 1}
        assert [str(RULES[codes.PURCHASE_UNLICENSED].title), 1] in job.result["summary"]
        run = ReconciliationRun.objects.get(pk=job.result["run"])
        assert run.finished_at and run.as_of == AS_OF

    def test_job_refuses_a_bad_mode(self):
        from jindu.core.jobs import JobError
        from jindu.core.models import Job
        from jindu.precursors.tasks import KIND
        from jindu.precursors.tasks import reconcile as reconcile_job

        job = Job.objects.create(kind=KIND, title="闭环核对", params={"mode": "sometimes"})
        with pytest.raises(JobError):
            reconcile_job.call(job.pk)
        job.refresh_from_db()
        assert job.status == Job.Status.FAILED and "mode" in job.message


# ---------------------------------------------------------------------------------------------
# The shared ledger pass
# ---------------------------------------------------------------------------------------------

class TestLedgerPass:
    """The entry-level rules share one pass over the ledger: an entry several rules flag is
    found by each of them; an entry several documents or other-side entries match is still
    one entry."""

    def test_one_sale_offending_four_rules_is_found_by_each(self, seller, buyer):
        # Category 2, no transport number, buyer without a filing, never reported, never received.
        e = entry(seller, ANHYDRIDE, Direction.OUT, "50", D, counterparty=buyer)
        reconcile()
        for code in (codes.SALE_TO_UNLICENSED, codes.LATE_SALE_REPORT, codes.TRANSPORT_UNPERMITTED,
                     codes.TRANSFER_NO_INBOUND):
            [d] = found(code)
            assert entry_ids(d) == {e.pk}, code
            assert d.details.get("entries", 1) == 1, code

    def test_an_entry_matched_by_several_documents_and_deliveries_counts_once(self, seller, buyer):
        licence(buyer, LicenceKind.PURCHASE_FILING, SULPHURIC)
        licence(buyer, LicenceKind.PURCHASE_LICENCE, SULPHURIC)
        out = entry(seller, SULPHURIC, Direction.OUT, "100", D, counterparty=buyer)  # unreported, no transport number
        entry(buyer, SULPHURIC, Direction.IN, "100", D, counterparty=seller)
        entry(buyer, SULPHURIC, Direction.IN, "100", D + timedelta(days=1), counterparty=seller)
        reconcile()
        assert not found(codes.SALE_TO_UNLICENSED) and not found(codes.TRANSFER_NO_INBOUND)
        assert not found(codes.PURCHASE_UNLICENSED)
        for code in (codes.LATE_SALE_REPORT, codes.TRANSPORT_UNPERMITTED):
            [d] = found(code)
            assert entry_ids(d) == {out.pk} and d.details["entries"] == 1, code
        assert Decimal(found(codes.TRANSPORT_UNPERMITTED)[0].details["quantity_kg"]) == 100
