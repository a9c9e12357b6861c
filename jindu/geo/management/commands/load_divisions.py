from django.core.management.base import BaseCommand, CommandError

from jindu.geo.services import load_city


class Command(BaseCommand):
    help = "Load a city's administrative divisions (NBS 2023) down to villages where shipped."

    def add_arguments(self, parser):
        parser.add_argument("--city", required=True, help="city code, e.g. 460100 (海口市)")

    def handle(self, *args, city: str, **options):
        if not city.isdigit() or len(city) not in (4, 6, 12):
            raise CommandError("--city 应为 4 位或 6 位城市代码，例如 460100")
        try:
            result = load_city(city)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        created = ", ".join(f"{k}={v}" for k, v in result.created.items())
        self.stdout.write(f"divisions for {city}: created {created}; updated {result.updated}")
        if not result.villages_available:
            self.stdout.write(self.style.WARNING("village data not shipped for this province: loaded down to towns"))
