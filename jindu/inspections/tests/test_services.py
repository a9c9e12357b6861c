"""Services: checklist profiles (shipped, versioned, switchable), recording inspections,
re-inspection, rectification and closure, external targets; one audit event each."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from jindu.accounts.tests.factories import UnitFactory
from jindu.core.models import AuditEvent, StaleEditError
from jindu.core.testing import division, grant, make_user
from jindu.inspections import services
from jindu.inspections.choices import HazardStatus, TargetKind
from jindu.inspections.loaders import shipped_profiles
from jindu.inspections.models import ChecklistTemplate, Hazard, Inspection, Target
from jindu.inspections.tests.factories import TargetFactory, all_pass, shanghai, template

NOW = shanghai(2024, 6, 1, 12, 0)


@pytest.fixture
def city_admin(db):
    user = make_user()
    grant(user, "ncc_admin", "460100")
    return user


@pytest.fixture
def town_user(db):
    user = make_user()
    grant(user, "town_office", "460106001")
    return user


def events(action):
    return AuditEvent.objects.filter(action=action)


class TestShippedChecklists:
    def test_profiles_named_with_sources_and_one_default_per_category(self, db):
        current = ChecklistTemplate.objects.filter(is_current=True)
        codes = set(current.values_list("code", flat=True))
        assert {"venue-standard", "delivery-five-a-core", "delivery-five-a", "delivery-five-b",
                "postal-three-hainan"} <= codes
        assert all(t.source for t in current)
        assert "E7" in current.get(code="postal-three-hainan").source
        assert list(current.get(code="postal-three-hainan").items.values_list("text", flat=True)) == [
            "100%收寄验视", "100%实名收寄", "100%过机安检"]
        assert current.filter(category="venue", is_default=True).count() == 1
        assert current.get(category="delivery", is_default=True).code == "delivery-five-a-core"

    def test_loading_again_changes_nothing(self, db):
        before = list(ChecklistTemplate.objects.values_list("pk", "version"))
        assert services.ensure_checklist_profiles(shipped_profiles()) == {"created": 0, "revised": 0}
        assert list(ChecklistTemplate.objects.values_list("pk", "version")) == before

    def test_changed_shipped_file_makes_a_new_builtin_revision(self, db):
        profiles = shipped_profiles()
        for p in profiles:
            if p["code"] == "delivery-five-b":
                p["items"][0]["text"] = "100%持证经营（许可证公示）"
        assert services.ensure_checklist_profiles(profiles) == {"created": 0, "revised": 1}
        assert ChecklistTemplate.objects.get(code="delivery-five-b", is_current=True).revision == 2

    def test_user_revision_is_not_overwritten_by_the_loader(self, city_admin):
        tpl = template("delivery-five-b")
        items = list(tpl.items.order_by("seq").values("code", "text", "points", "required", "basis"))
        services.revise_template(user=city_admin, template=tpl, data={}, items=items[:4],
                                 expected_version=tpl.version, note="去掉视频监控")
        services.ensure_checklist_profiles(shipped_profiles())
        assert ChecklistTemplate.objects.get(code="delivery-five-b", is_current=True).items.count() == 4


class TestVersioning:
    def test_editing_creates_a_new_revision_and_old_inspections_keep_theirs(self, city_admin):
        tpl = template("venue-standard")
        target = TargetFactory()
        old_inspection = services.record_inspection(user=city_admin, target=target, template=tpl,
                                                    inspected_at=shanghai(2024, 5, 1, 10, 0),
                                                    results=all_pass(tpl), now=NOW)
        items = list(tpl.items.order_by("seq").values("code", "text", "points", "required", "basis"))
        items.append({"code": "V12", "text": "未发现笑气气罐", "points": "2", "required": False, "basis": ""})
        new = services.revise_template(user=city_admin, template=tpl, data={"pass_score_pct": Decimal("90")},
                                       items=items, expected_version=tpl.version, note="增加笑气检查")
        tpl.refresh_from_db()
        assert (tpl.is_current, tpl.is_default) == (False, False)
        assert (new.revision, new.is_current, new.is_default) == (2, True, True)
        assert new.supersedes_id == tpl.pk and new.items.count() == tpl.items.count() + 1
        old_inspection.refresh_from_db()
        assert old_inspection.template_id == tpl.pk
        assert {r.item.template_id for r in old_inspection.results.select_related("item")} == {tpl.pk}
        assert events("inspections.template_revised").filter(target_id=str(new.pk)).count() == 1
        with pytest.raises(ValidationError):  # only the current revision is used for new inspections
            services.record_inspection(user=city_admin, target=target, template=tpl,
                                       inspected_at=shanghai(2024, 5, 2, 10, 0), results=all_pass(tpl), now=NOW)

    def test_stale_revision_refused(self, city_admin):
        tpl = template("delivery-five-a")
        items = list(tpl.items.order_by("seq").values("code", "text", "points", "required", "basis"))
        with pytest.raises(StaleEditError):
            services.revise_template(user=city_admin, template=tpl, data={"name": "改名"}, items=items,
                                     expected_version=tpl.version - 1 if tpl.version > 1 else 99)
        assert ChecklistTemplate.objects.filter(code="delivery-five-a").count() == 1

    def test_unchanged_revision_refused(self, city_admin):
        tpl = template("delivery-five-a")
        items = list(tpl.items.order_by("seq").values("code", "text", "points", "required", "basis"))
        with pytest.raises(ValidationError):
            services.revise_template(user=city_admin, template=tpl, data={}, items=items,
                                     expected_version=tpl.version)

    def test_duplicate_item_codes_refused(self, city_admin):
        tpl = template("delivery-five-a")
        with pytest.raises(ValidationError) as exc:
            services.revise_template(user=city_admin, template=tpl, data={}, expected_version=tpl.version,
                                     items=[{"code": "A1", "text": "甲"}, {"code": "A1", "text": "乙"}])
        assert "重复" in str(exc.value)

    def test_town_office_may_not_edit_city_checklists(self, town_user):
        tpl = template("delivery-five-a")
        with pytest.raises(PermissionDenied):
            services.revise_template(user=town_user, template=tpl, data={"name": "改名"}, items=[{"code": "x",
                                     "text": "y"}], expected_version=tpl.version)

    def test_switch_default_profile(self, city_admin):
        services.set_default_template(user=city_admin, template=template("postal-three-hainan"))
        defaults = ChecklistTemplate.objects.filter(category="delivery", is_current=True, is_default=True)
        assert list(defaults.values_list("code", flat=True)) == ["postal-three-hainan"]


class TestRecording:
    def test_failed_items_become_hazards_with_default_deadline(self, town_user):
        target = TargetFactory(kind=TargetKind.EXPRESS_OUTLET)
        tpl = template("delivery-five-a-core")
        unit = UnitFactory(division=division("460106001"))
        inspection = services.record_inspection(
            user=town_user, target=target, template=tpl, inspected_at=shanghai(2024, 5, 31, 23, 30),
            results=all_pass(tpl, D03=("fail", "无安检机")), units=[unit], now=NOW)
        assert not inspection.passed and inspection.score_pct == Decimal("85.7")
        assert inspection.required_failed == 1
        hazard = inspection.hazards.get()
        assert hazard.deadline == date(2024, 6, 7)  # local date of 23:30 Shanghai + 7 days
        assert "无安检机" in hazard.description
        assert list(inspection.units.all()) == [unit] and list(inspection.inspectors.all()) == [town_user]
        assert events("inspections.inspection_recorded").filter(target_id=str(inspection.pk)).count() == 1

    def test_checklist_must_fit_the_target(self, town_user):
        with pytest.raises(ValidationError):
            services.record_inspection(user=town_user, target=TargetFactory(kind=TargetKind.KTV),
                                       template=template("delivery-five-a"), inspected_at=shanghai(2024, 5, 1, 9, 0),
                                       results=all_pass(template("delivery-five-a")), now=NOW)

    def test_every_item_needs_a_result(self, town_user):
        tpl = template()
        results = all_pass(tpl)
        results.pop(next(iter(results)))
        with pytest.raises(ValidationError) as exc:
            services.record_inspection(user=town_user, target=TargetFactory(), template=tpl,
                                       inspected_at=shanghai(2024, 5, 1, 9, 0), results=results, now=NOW)
        assert "未填写结果" in str(exc.value)
        assert not Inspection.objects.exists()

    def test_future_time_refused(self, town_user):
        tpl = template()
        with pytest.raises(ValidationError):
            services.record_inspection(user=town_user, target=TargetFactory(), template=tpl,
                                       inspected_at=shanghai(2024, 6, 2, 9, 0), results=all_pass(tpl), now=NOW)

    def test_out_of_scope_target_refused_and_nothing_written(self, town_user):
        tpl = template()
        target = TargetFactory(division=division("460105001"))
        with pytest.raises(PermissionDenied):
            services.record_inspection(user=town_user, target=target, template=tpl,
                                       inspected_at=shanghai(2024, 5, 1, 9, 0), results=all_pass(tpl), now=NOW)
        assert not Inspection.objects.exists() and not Hazard.objects.exists()

    def test_team_unit_out_of_scope_refused(self, town_user):
        tpl = template()
        with pytest.raises(ValidationError):
            services.record_inspection(user=town_user, target=TargetFactory(), template=tpl,
                                       inspected_at=shanghai(2024, 5, 1, 9, 0), results=all_pass(tpl),
                                       units=[UnitFactory(division=division("460105"))], now=NOW)

    def test_reinspection_failing_again_reopens_without_duplicate(self, town_user):
        target = TargetFactory()
        tpl = template()
        first = services.record_inspection(user=town_user, target=target, template=tpl,
                                           inspected_at=shanghai(2024, 5, 1, 9, 0),
                                           results=all_pass(tpl, V05="fail", V06="fail"), now=NOW)
        h5, h6 = first.hazards.order_by("item__seq")
        services.report_rectification(user=town_user, hazard=h5, note="已修复监控",
                                      rectified_at=shanghai(2024, 5, 3, 9, 0))
        services.report_rectification(user=town_user, hazard=h6, note="已建名簿",
                                      rectified_at=shanghai(2024, 5, 3, 9, 0))
        second = services.record_inspection(user=town_user, target=target, template=tpl,
                                            inspected_at=shanghai(2024, 5, 9, 9, 0),
                                            results=all_pass(tpl, V06="fail"), follow_up_of=first, now=NOW)
        h5.refresh_from_db()
        h6.refresh_from_db()
        assert (h5.status, h5.verified_by_id) == (HazardStatus.VERIFIED, second.pk)
        assert (h6.status, h6.rectified_at) == (HazardStatus.OPEN, None)
        assert h6.deadline == date(2024, 5, 16)
        assert not second.hazards.exists()  # the failing item is h6 again, not a new hazard
        services.close_hazard(user=town_user, hazard=h5, note="复查合格")
        with pytest.raises(ValidationError):
            services.close_hazard(user=town_user, hazard=h6)  # not verified
        with pytest.raises(ValidationError):
            services.close_inspection(user=town_user, inspection=first)  # h6 still open

    def test_close_inspection_when_all_hazards_closed(self, town_user):
        target = TargetFactory()
        tpl = template()
        first = services.record_inspection(user=town_user, target=target, template=tpl,
                                           inspected_at=shanghai(2024, 5, 1, 9, 0), results=all_pass(tpl, V08="fail"),
                                           now=NOW)
        services.record_inspection(user=town_user, target=target, template=tpl,
                                   inspected_at=shanghai(2024, 5, 5, 9, 0), results=all_pass(tpl),
                                   follow_up_of=first, now=NOW)
        services.close_hazard(user=town_user, hazard=first.hazards.get())
        closed = services.close_inspection(user=town_user, inspection=first, note="全部整改")
        assert closed.closed_at is not None
        assert events("inspections.inspection_closed").count() == 1

    def test_rectification_needs_a_note_and_an_open_hazard(self, town_user):
        tpl = template()
        inspection = services.record_inspection(user=town_user, target=TargetFactory(), template=tpl,
                                                inspected_at=shanghai(2024, 5, 1, 9, 0),
                                                results=all_pass(tpl, V08="fail"), now=NOW)
        hazard = inspection.hazards.get()
        with pytest.raises(ValidationError):
            services.report_rectification(user=town_user, hazard=hazard, note=" ")
        services.report_rectification(user=town_user, hazard=hazard, note="已张贴")
        with pytest.raises(ValidationError):
            services.report_rectification(user=town_user, hazard=hazard, note="再次")
        assert events("inspections.hazard_rectified").count() == 1


class TestTargets:
    def test_coordinates_both_or_neither(self, town_user):
        with pytest.raises(ValidationError) as exc:
            services.create_target(user=town_user, data={"kind": "ktv", "name": "甲", "division": division(
                "460106001"), "longitude": Decimal("110.3")})
        assert "latitude" in exc.value.message_dict

    def test_external_registration_is_idempotent(self, db):
        data = {"name": "海口某化工有限公司", "division": division("460107001")}
        t1, created = services.register_external_target(user=None, source_model="precursors.Enterprise",
                                                        source_key=7, kind=TargetKind.PRECURSOR_ENTERPRISE,
                                                        data=data)
        t2, created2 = services.register_external_target(user=None, source_model="precursors.Enterprise",
                                                         source_key="7", kind=TargetKind.PRECURSOR_ENTERPRISE,
                                                         data=data)
        assert created and not created2 and t1.pk == t2.pk
        assert Target.objects.filter(source_model="precursors.Enterprise").count() == 1
        assert t1.category == "enterprise"

    def test_stale_target_edit_refused(self, town_user):
        target = TargetFactory()
        services.update_target(user=town_user, target=target, data={"address": "新地址"},
                               expected_version=target.version)
        with pytest.raises(StaleEditError):
            services.update_target(user=town_user, target=target, data={"address": "旧页面"},
                                   expected_version=target.version)
        target.refresh_from_db()
        assert target.address == "新地址"
