from jindu.geo.models import Division


def test_haikou_town_counts(db):
    counts = {
        d.name: d.children.filter(town_kind__in=["subdistrict", "town", "township"]).count()
        for d in Division.objects.filter(level="district", code__startswith="4601")
    }
    assert counts == {"秀英区": 8, "龙华区": 11, "琼山区": 11, "美兰区": 13}
