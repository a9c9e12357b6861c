"""Scorecard, rectification deadlines at the local-midnight boundary (peer case 11), and
the four-colour status in each of its states, in Python and in SQL."""

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
import time_machine

from jindu.core.testing import division, user_with
from jindu.core.timeutils import month_period, quarter_period
from jindu.inspections import selectors, services
from jindu.inspections.choices import Colour, HazardStatus
from jindu.inspections.rules import colour, hazard_due, scorecard
from jindu.inspections.tests.factories import TargetFactory, all_pass, shanghai, template


def item(code, points="1", required=False):
    return SimpleNamespace(code=code, points=Decimal(points), required=required)


class TestScorecard:
    def test_share_of_items_passed_excludes_not_applicable(self):
        card = scorecard([(item("a"), "pass"), (item("b"), "pass"), (item("c"), "fail"), (item("d"), "na")])
        assert (card.items_passed, card.items_failed, card.items_na) == (2, 1, 1)
        assert card.score_pct == Decimal("66.7")
        assert not card.passed

    def test_weighted_points(self):
        card = scorecard([(item("a", "3"), "pass"), (item("b", "1"), "fail")], Decimal("70"))
        assert card.score_pct == Decimal("75.0")
        assert card.passed  # 75 ≥ 70 and the failed item is not a 100% item

    def test_a_failed_hundred_percent_item_fails_whatever_the_score(self):
        items = [(item(f"x{i}"), "pass") for i in range(9)] + [(item("real_name", required=True), "fail")]
        card = scorecard(items, Decimal("80"))
        assert card.score_pct == Decimal("90.0")
        assert card.required_failed == ("real_name",)
        assert not card.passed

    def test_all_passed(self):
        card = scorecard([(item("a", required=True), "pass"), (item("b"), "na")])
        assert card.passed and card.score_pct == Decimal("100.0")

    def test_nothing_applicable_does_not_pass(self):
        card = scorecard([(item("a"), "na")])
        assert not card.passed and card.score_pct == Decimal("0.0")

    def test_unknown_outcome_refused(self):
        with pytest.raises(ValueError):
            scorecard([(item("a"), "maybe")])

    def test_shipped_five_hundred_percent_scorecard(self, db):
        tpl = template("delivery-five-a")
        assert [i.required for i in tpl.items.order_by("seq")] == [True] * 5
        card = scorecard([(i, "fail" if i.code == "A3" else "pass") for i in tpl.items.all()], tpl.pass_score_pct)
        assert card.score_pct == Decimal("80.0") and card.required_failed == ("A3",) and not card.passed


class TestDeadline:
    """Peer case 11: 整改期限 2024-06-20."""

    hazard = SimpleNamespace(status=HazardStatus.OPEN, deadline=date(2024, 6, 20))

    @pytest.mark.parametrize("moment,expected", [
        (shanghai(2024, 6, 19, 23, 59), "upcoming"),
        (shanghai(2024, 6, 20, 0, 0), "due_today"),
        (shanghai(2024, 6, 20, 23, 59), "due_today"),
        (shanghai(2024, 6, 21, 0, 0, 1), "overdue"),
        (shanghai(2024, 6, 21, 7, 59), "overdue"),  # UTC still reads 20 June
    ])
    def test_due_state_at_the_local_midnight_boundary(self, moment, expected):
        with time_machine.travel(moment, tick=False):
            assert hazard_due(self.hazard) == expected

    def test_rectified_hazard_is_not_overdue(self):
        done = SimpleNamespace(status=HazardStatus.RECTIFIED, deadline=date(2024, 6, 20))
        assert hazard_due(done, shanghai(2024, 7, 1, 12, 0)) is None

    def test_hazard_list_due_filter_at_the_boundary(self, db, client):
        user = user_with(["inspections.view_hazard"], division("460106"))
        target = TargetFactory()
        tpl = template()
        recorder = user_with(["inspections.add_inspection", "inspections.view_inspection",
                              "inspections.view_target"], division("460106"))
        services.record_inspection(user=recorder, target=target, template=tpl,
                                   inspected_at=shanghai(2024, 6, 13, 10, 0), results=all_pass(tpl, V05="fail"),
                                   hazard_deadline=date(2024, 6, 20), now=shanghai(2024, 6, 13, 11, 0))
        client.force_login(user)
        for moment, due, not_due in [(shanghai(2024, 6, 20, 23, 59), "due_today", "overdue"),
                                     (shanghai(2024, 6, 21, 0, 0, 1), "overdue", "due_today"),
                                     (shanghai(2024, 6, 21, 7, 59), "overdue", "due_today")]:
            with time_machine.travel(moment, tick=False):
                html = client.get("/inspections/hazards/", {"due": due}).content.decode()
                assert f'data-due="{due}"' in html
                assert "没有符合条件的隐患" not in html
                html = client.get("/inspections/hazards/", {"due": not_due}).content.decode()
                assert "没有符合条件的隐患" in html


@pytest.fixture
def recorder(db):
    return user_with(["inspections.add_inspection", "inspections.view_inspection", "inspections.view_target",
                      "inspections.view_hazard", "inspections.change_hazard"], division("460106"))


class TestFourColours:
    """Each of the four states, read for Q2 2024 on 2024-06-01, by the Python rule and by
    the SQL annotation."""

    period = quarter_period(2024, 2)
    now = shanghai(2024, 6, 1, 12, 0)

    def _colour(self, user, target):
        row = selectors.targets_with_colour(user, self.period, now=self.now).get(pk=target.pk)
        assert colour(open_hazards=row.open_hazards, latest_passed=row.latest_passed,
                      latest_rectified=row.latest_rectified) == row.colour
        return row.colour

    def _inspect(self, user, target, when, **fails):
        tpl = template()
        return services.record_inspection(user=user, target=target, template=tpl, inspected_at=when,
                                          results=all_pass(tpl, **fails), now=self.now)

    def test_yellow_when_not_inspected_this_period(self, recorder):
        target = TargetFactory()
        self._inspect(recorder, target, shanghai(2024, 3, 31, 23, 0))  # last quarter, passed
        assert self._colour(recorder, target) == Colour.YELLOW

    def test_green_when_latest_inspection_passed(self, recorder):
        target = TargetFactory()
        self._inspect(recorder, target, shanghai(2024, 4, 1, 0, 30))
        assert self._colour(recorder, target) == Colour.GREEN

    def test_red_when_failed_and_not_rectified(self, recorder):
        target = TargetFactory()
        self._inspect(recorder, target, shanghai(2024, 5, 2, 10, 0), V03="fail")
        assert self._colour(recorder, target) == Colour.RED

    def test_blue_when_failed_and_rectified(self, recorder):
        target = TargetFactory()
        inspection = self._inspect(recorder, target, shanghai(2024, 5, 2, 10, 0), V03="fail", V05="fail")
        hazards = list(inspection.hazards.all())
        services.report_rectification(user=recorder, hazard=hazards[0], note="已整改",
                                      rectified_at=shanghai(2024, 5, 5, 10, 0))
        assert self._colour(recorder, target) == Colour.RED  # one of two still open
        services.report_rectification(user=recorder, hazard=hazards[1], note="已整改",
                                      rectified_at=shanghai(2024, 5, 6, 10, 0))
        assert self._colour(recorder, target) == Colour.BLUE

    def test_reinspection_that_passes_turns_green(self, recorder):
        target = TargetFactory()
        first = self._inspect(recorder, target, shanghai(2024, 5, 2, 10, 0), V03="fail")
        services.report_rectification(user=recorder, hazard=first.hazards.get(), note="已整改",
                                      rectified_at=shanghai(2024, 5, 5, 10, 0))
        tpl = template()
        services.record_inspection(user=recorder, target=target, template=tpl,
                                   inspected_at=shanghai(2024, 5, 8, 10, 0), results=all_pass(tpl),
                                   follow_up_of=first, now=self.now)
        assert first.hazards.get().status == HazardStatus.VERIFIED
        assert self._colour(recorder, target) == Colour.GREEN

    def test_open_hazard_from_last_period_outranks_not_inspected(self, recorder):
        target = TargetFactory()
        self._inspect(recorder, target, shanghai(2024, 3, 20, 10, 0), V02="fail")
        assert self._colour(recorder, target) == Colour.RED

    def test_past_period_is_read_at_its_end(self, recorder):
        """A hazard rectified after the period closed still counts as open for that period."""
        target = TargetFactory()
        inspection = self._inspect(recorder, target, shanghai(2024, 4, 20, 10, 0), V02="fail")
        services.report_rectification(user=recorder, hazard=inspection.hazards.get(), note="已整改",
                                      rectified_at=shanghai(2024, 5, 3, 10, 0))
        april = selectors.targets_with_colour(recorder, month_period(2024, 4), now=self.now).get(pk=target.pk)
        may = selectors.targets_with_colour(recorder, month_period(2024, 5), now=self.now).get(pk=target.pk)
        assert april.colour == Colour.RED
        assert may.colour == Colour.YELLOW  # nothing open, not inspected in May

    def test_pure_rule_table(self):
        assert colour(open_hazards=0, latest_passed=None, latest_rectified=0) == Colour.YELLOW
        assert colour(open_hazards=1, latest_passed=None, latest_rectified=0) == Colour.RED
        assert colour(open_hazards=0, latest_passed=False, latest_rectified=0) == Colour.RED
        assert colour(open_hazards=0, latest_passed=False, latest_rectified=2) == Colour.BLUE
        assert colour(open_hazards=0, latest_passed=True, latest_rectified=0) == Colour.GREEN
        assert colour(open_hazards=1, latest_passed=True, latest_rectified=0) == Colour.RED
