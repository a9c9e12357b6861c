import io

from django.core.management import call_command
from django.test import override_settings

from jindu.accounts.demo import DEMO_PASSWORD, DEMO_USERS
from jindu.core.timeutils import local_today
from jindu.accounts.models import RoleAssignment, User
from jindu.geo.models import Division
from jindu.org.models import CommissionMembership, Pairing, Unit


def _counts():
    return (Unit.objects.count(), Pairing.objects.count(), CommissionMembership.objects.count(),
            User.objects.count(), RoleAssignment.objects.count())


@override_settings(JINDU_DEMO=True)
def test_seed_demo_is_idempotent_and_matches_the_seed_figures(db):
    call_command("seed_demo", stdout=io.StringIO())
    first = _counts()
    call_command("seed_demo", stdout=io.StringIO())
    assert _counts() == first
    assert Unit.objects.filter(kind="member_unit").count() + Unit.objects.filter(
        kind="police", parent__isnull=True).count() == 39
    assert Unit.objects.filter(kind__in=["non_member_unit", "school"]).count() == 43
    # 43 towns/sub-districts plus 桂林洋经济开发区 are paired each year.
    assert Pairing.objects.filter(year=local_today().year).values("town").distinct().count() == 44
    assert all(u.is_demo for u in User.objects.all())
    assert User.objects.get(username="fucheng_town").check_password(DEMO_PASSWORD)


@override_settings(JINDU_DEMO=False)
def test_demo_passwords_exist_only_in_demo_mode(db):
    call_command("seed_demo", stdout=io.StringIO())
    for username, *_ in DEMO_USERS:
        assert not User.objects.get(username=username).has_usable_password()


@override_settings(JINDU_DEMO=True)
def test_demo_users_see_their_subtree(db):
    call_command("seed_demo", stdout=io.StringIO())
    town_user = User.objects.get(username="fucheng_town")
    fucheng = Division.objects.get(name="府城街道")
    visible = Division.objects.restrict(town_user)
    assert set(visible.values_list("pk", flat=True)) == set(
        Division.objects.filter(path__startswith=fucheng.path).values_list("pk", flat=True)
    )
    district_user = User.objects.get(username="xiuying_office")
    assert not Unit.objects.restrict(district_user).filter(division__name="府城街道").exists()
    assert Unit.objects.restrict(district_user).filter(name="秀英区禁毒委员会办公室").exists()


@override_settings(JINDU_DEMO=True)
def test_seed_demo_again_keeps_what_administrators_changed(db):
    call_command("seed_demo", stdout=io.StringIO())
    unit = Unit.objects.get(name="府城街道禁毒办")
    unit.name = "府城街道禁毒办公室"
    unit.save()
    RoleAssignment.objects.filter(user__username="fucheng_worker").delete()
    before = _counts()
    call_command("seed_demo", stdout=io.StringIO())
    assert _counts() == before
    assert not Unit.objects.filter(name="府城街道禁毒办").exists()
    assert not RoleAssignment.objects.filter(user__username="fucheng_worker").exists()


def test_switching_to_demo_mode_gives_demo_users_their_password(db, settings):
    settings.JINDU_DEMO = False
    call_command("seed_demo", stdout=io.StringIO())
    settings.JINDU_DEMO = True
    call_command("seed_demo", stdout=io.StringIO())
    assert User.objects.get(username="leader").check_password(DEMO_PASSWORD)
