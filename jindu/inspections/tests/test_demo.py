"""The demo seed: created once, deterministic, covering the four districts."""

import io

from jindu.inspections import demo
from jindu.inspections.choices import Colour
from jindu.inspections.models import Hazard, Inspection, ItemResult, Target
from jindu.core.testing import make_user, grant
from jindu.core.timeutils import local_today, year_period
from jindu.inspections.selectors import colour_counts, targets_with_colour


def _counts():
    return (Target.objects.count(), Inspection.objects.count(), ItemResult.objects.count(), Hazard.objects.count())


def test_demo_is_created_once(db):
    from jindu.org import demo as org_demo

    org_demo.seed(io.StringIO())
    out = io.StringIO()
    demo.seed(out)
    first = _counts()
    assert first[0] > 200 and first[1] > first[0] and first[3] > 0
    names = list(Target.objects.order_by("pk").values_list("name", flat=True)[:5])
    demo.seed(out)
    assert _counts() == first
    assert "already present" in out.getvalue()
    districts = {t.division.parent.code[:6] for t in Target.objects.select_related("division__parent")}
    assert districts == {"460105", "460106", "460107", "460108"}
    assert Inspection.objects.filter(units__isnull=False).exists()
    assert Inspection.objects.filter(follow_up_of__isnull=False).exists()
    assert {"open", "closed"} <= set(Hazard.objects.values_list("status", flat=True))
    admin = make_user()
    grant(admin, "ncc_admin", "460100")
    counts = colour_counts(targets_with_colour(admin, year_period(local_today().year - 1)))
    assert counts[Colour.GREEN] > 0 and sum(counts.values()) == first[0]
    # Deterministic: a fresh run gives the same names.
    Hazard.objects.all().delete()
    ItemResult.objects.all().delete()
    Inspection.units.through.objects.all().delete()
    Inspection.objects.filter(follow_up_of__isnull=False).delete()
    Inspection.objects.all().delete()
    Target.objects.all().delete()
    demo.seed(io.StringIO())
    assert list(Target.objects.order_by("pk").values_list("name", flat=True)[:5]) == names
