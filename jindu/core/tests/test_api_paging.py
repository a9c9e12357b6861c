"""Peer case 20 for the API machinery: equal sort keys and to-many filters page without
repeats, and ``count`` is the real number of rows."""

from django.urls import reverse

from jindu.core.testing import all_pages, api_client, division, user_with
from jindu.org.models import Unit


def test_to_many_filter_with_two_values_counts_each_row_once(db):
    user = user_with(["org.view_unit", "geo.view_division"], division("460106"))
    town_a, town_b = division("460106001"), division("460106002")
    home = division("460106")
    units = Unit.objects.bulk_create([Unit(name=f"服务单位{i:02d}", kind="other", division=home) for i in range(50)])
    for u in units[:30]:
        u.jurisdiction.add(town_a)
    for u in units[20:50]:  # 10 units (20..29) serve both towns
        u.jurisdiction.add(town_b)
    Unit.objects.bulk_create([Unit(name=f"无关单位{i}", kind="other", division=home) for i in range(5)])
    client = api_client(user)
    ids, count = all_pages(client, reverse("api:unit-list"),
                           {"serves": [town_a.pk, town_b.pk], "page_size": 20, "ordering": "kind"})
    assert count == 50 and len(ids) == 50 and len(set(ids)) == 50
    ids, count = all_pages(client, reverse("api:unit-list"), {"serves": f"{town_a.pk},{town_b.pk}"})
    assert count == 50 and len(set(ids)) == 50
    assert client.get(reverse("api:unit-list"), {"serves": "abc"}).status_code == 400


def test_equal_sort_keys_page_through_in_both_directions(db):
    user = user_with(["org.view_unit"], division("460106"))
    div = division("460106003")
    Unit.objects.bulk_create([Unit(name=f"同键{i:03d}", kind="school", division=div) for i in range(120)])
    client = api_client(user)
    for ordering in ("kind", "-kind", "-updated_at"):
        ids, count = all_pages(client, reverse("api:unit-list"), {"page_size": 50, "ordering": ordering})
        assert count == 120 and len(ids) == 120 and len(set(ids)) == 120, ordering
