from django.core.management.base import BaseCommand

from jindu.precursors.loaders import load_catalogue


class Command(BaseCommand):
    help = "Load or update the precursor-chemical catalogue (idempotent)."

    def handle(self, *args, **options):
        counts = load_catalogue()
        self.stdout.write(self.style.SUCCESS(
            "precursors: {created} created, {updated} updated, {deactivated} deactivated".format(**counts)))
