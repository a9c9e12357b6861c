"""``manage.py rebuild_licence_cover``: flatten every licence again into the licence cover
(:class:`~jindu.precursors.models.LicenceCover`, :mod:`jindu.precursors.reconciliation.cover`).

The cover is kept in step by every licence, line and chemical saved through the ORM; run
this repair tool after writing licences past it (``bulk_create``, ``QuerySet.update``, a
load by SQL or ``COPY``), after changing the licence-kind rules, or when ``--check``
reports differences. ``--check`` only compares and exits with status 1 when a row differs.
"""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Rebuild the licence cover the precursor reconciliation reads (--check: only compare)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help="compare the cover with the licences and report differences; change nothing")

    def handle(self, *args, check=False, **options):
        from jindu.precursors.reconciliation.cover import cover_mismatches, rebuild_cover

        if check:
            diffs = cover_mismatches()
            for kind, row in diffs[:20]:
                self.stdout.write(f"{kind}: {row}")
            if diffs:
                raise CommandError(f"{len(diffs)} cover rows differ from the licences; run manage.py rebuild_licence_cover")
            self.stdout.write("cover agrees with the licences")
            return
        self.stdout.write(f"{rebuild_cover()} cover rows rebuilt")
