"""Driving licences: holders who fall under 公安部令第162号 art. 79(6) (被责令社区戒毒、社区康复或者决定
强制隔离戒毒) are listed and exported for the traffic police; a cancellation is recorded with its date."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from openpyxl import load_workbook

from jindu.core.idnumbers import mask_identity_number
from jindu.core.models import AccessLog, AuditEvent, StaleEditError
from jindu.persons import rules, services, workflows
from jindu.persons.choices import EventKind
from jindu.persons.services.registry import timeline_of
from jindu.persons.tests.workflow_support import XIUYING, ZHONGSHAN, fresh, register, role_user, village

K = EventKind
TODAY = dt.date(2024, 6, 3)


@pytest.fixture
def world(db):
    with time_machine.travel(dt.datetime(2024, 6, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        licence = {"holds_driving_licence": True, "driving_licence_classes": "C1"}
        people = {
            "community": register(events=[{"kind": K.COMMUNITY_REHAB_ORDER, "occurred_on": dt.date(2024, 1, 2)},
                                          {"kind": K.REPORTED, "occurred_on": dt.date(2024, 1, 5)}], **licence),
            "isolation": register(events=[{"kind": K.ISOLATION_DECISION, "occurred_on": dt.date(2023, 9, 1)}],
                                  **licence),
            "awaiting": register(events=[{"kind": K.COMMUNITY_RECOVERY_ORDER, "occurred_on": dt.date(2024, 5, 30)}],
                                 **licence),
            "deemed_refusal": register(events=[{"kind": K.COMMUNITY_REHAB_ORDER, "occurred_on": dt.date(2024, 4, 1)}],
                                       **licence),
            "no_measure": register(events=[{"kind": K.FOUND_USING, "occurred_on": dt.date(2024, 2, 1)}], **licence),
            "no_licence": register(events=[{"kind": K.COMMUNITY_REHAB_ORDER, "occurred_on": dt.date(2024, 1, 2)},
                                           {"kind": K.REPORTED, "occurred_on": dt.date(2024, 1, 5)}]),
            "elsewhere": register(events=[{"kind": K.ISOLATION_DECISION, "occurred_on": dt.date(2023, 9, 1)}],
                                  residence=village(XIUYING), **licence),
        }
        yield people


def test_list_follows_article_79_6_as_the_rules_do(world):
    """The list is exactly the licence holders for whom ``rules.licence_cancellation_ground``
    names an order, with that order as the ground."""
    with time_machine.travel(dt.datetime(2024, 6, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        town = role_user("town_office", ZHONGSHAN)
        listed = {p.pk: p.ground_kind for p in workflows.licences_to_cancel(town)}
        expected = {world[k].pk for k in ("community", "isolation", "awaiting", "deemed_refusal")}
        assert set(listed) == expected
        assert listed[world["isolation"].pk] == K.ISOLATION_DECISION
        assert listed[world["awaiting"].pk] == K.COMMUNITY_RECOVERY_ORDER
        for key in ("community", "isolation", "awaiting", "deemed_refusal", "no_measure"):
            person = world[key]
            state = rules.derive_state(timeline_of(person), TODAY)
            assert rules.licence_cancellation_ground(state) == listed.get(person.pk), key


def test_cancellation_is_recorded_and_audited(world):
    with time_machine.travel(dt.datetime(2024, 6, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        police = role_user("police", ZHONGSHAN)
        person = fresh(world["community"])
        with pytest.raises(ValidationError) as exc:
            services.record_licence_cancellation(user=police, person=person, cancelled_on=dt.date(2024, 6, 4),
                                                 expected_version=person.version)
        assert "cancelled_on" in exc.value.message_dict
        with pytest.raises(StaleEditError):
            services.record_licence_cancellation(user=police, person=person, cancelled_on=TODAY,
                                                 expected_version=person.version + 1)
        services.record_licence_cancellation(user=police, person=person, cancelled_on=dt.date(2024, 6, 1),
                                             expected_version=person.version, document_number="琼公交注〔2024〕1号")
        assert fresh(person).licence_cancelled_on == dt.date(2024, 6, 1)
        assert person.pk not in [p.pk for p in workflows.licences_to_cancel(police)]
        assert person.pk in [p.pk for p in workflows.licences_cancelled(police)]
        event = AuditEvent.objects.get(action="persons.licence_cancelled", target_id=str(person.pk))
        assert event.actor == police and event.changes["licence_cancelled_on"] == "2024-06-01"
        with pytest.raises(ValidationError):  # not twice
            services.record_licence_cancellation(user=police, person=fresh(person), cancelled_on=TODAY,
                                                 expected_version=fresh(person).version)
        with pytest.raises(ValidationError) as exc:  # no licence on record
            no_licence = fresh(world["no_licence"])
            services.record_licence_cancellation(user=police, person=no_licence, cancelled_on=TODAY,
                                                 expected_version=no_licence.version)
        assert "person" in exc.value.message_dict


def test_export_is_scoped_masked_by_role_and_logged(world, client):
    with time_machine.travel(dt.datetime(2024, 6, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        town = role_user("town_office", ZHONGSHAN)
        police = role_user("police", ZHONGSHAN)
        url = reverse("persons:licence_export")
        for user, shown in ((town, mask_identity_number), (police, str)):
            client.force_login(user)
            response = client.get(url)
            assert response.status_code == 200
            sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
            rows = list(sheet.iter_rows(values_only=True))
            header, body = rows[0], rows[1:]
            numbers = {r[header.index("证件号码")] for r in body}
            expected = {world[k] for k in ("community", "isolation", "awaiting", "deemed_refusal")}
            assert numbers == {shown(p.identity_number) for p in expected}
            assert fresh(world["elsewhere"]).identity_number not in str(rows)
            grounds = {r[header.index("注销情形（公安部令第162号第七十九条第一款第六项）")] for r in body}
            assert grounds == {"被责令社区戒毒", "被决定强制隔离戒毒", "被责令社区康复"}
            log = AccessLog.objects.filter(user=user, kind=AccessLog.Kind.EXPORT).latest("pk")
            assert set(log.object_ids) == {str(p.pk) for p in expected}


def test_licence_page_lists_and_records(world, client):
    with time_machine.travel(dt.datetime(2024, 6, 3, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        police = role_user("police", ZHONGSHAN)
        client.force_login(police)
        html = client.get(reverse("persons:licence_list")).content.decode()
        assert f'data-person="{world["isolation"].pk}"' in html
        assert f'data-person="{world["elsewhere"].pk}"' not in html
        assert f'data-person="{world["no_measure"].pk}"' not in html
        person = fresh(world["isolation"])
        response = client.post(reverse("persons:licence_cancel", args=[person.pk]),
                               {"cancelled_on": "2024-06-02", "version": person.version})
        assert response.status_code == 302
        assert fresh(person).licence_cancelled_on == dt.date(2024, 6, 2)
        other = world["elsewhere"]
        assert client.post(reverse("persons:licence_cancel", args=[other.pk]),
                           {"cancelled_on": "2024-06-02", "version": 1}).status_code == 404
        assert AccessLog.objects.filter(user=police, kind=AccessLog.Kind.LIST, model="persons.Person").exists()
