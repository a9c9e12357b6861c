from django.core.management.base import BaseCommand

from jindu.substances.loaders import load_substances


class Command(BaseCommand):
    help = "Load or update the controlled-substances reference list (idempotent)."

    def handle(self, *args, **options):
        counts = load_substances()
        self.stdout.write(self.style.SUCCESS(
            "substances: {created} created, {updated} updated, {deactivated} deactivated".format(**counts)))
