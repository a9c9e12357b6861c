"""``manage.py rebuild_ledger_months``: sum the stock ledgers' monthly summary
(:class:`~jindu.precursors.models.LedgerMonth`, and the per-pair rows summed from it,
:class:`~jindu.precursors.models.LedgerPair`) again from the ledger.

The summary is kept in step by every posting and void; run this repair tool after writing
ledger rows past the posting path (a load by SQL or ``COPY``, a manual correction in the
database), or when ``--check`` reports differences. ``--check`` only compares (reads the
whole ledger) and exits with status 1 when any month or pair differs.
"""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Rebuild the monthly summary of the precursor stock ledgers from the ledger (--check: only compare)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help="compare the summary with the ledger and report differences; change nothing")

    def handle(self, *args, check=False, **options):
        from jindu.precursors.models import LedgerMonth
        from jindu.precursors.reconciliation.months import (
            pair_mismatches,
            rebuild_ledger_months,
            summary_mismatches,
        )

        if check:
            diffs = summary_mismatches()
            for ent, chem, month, stored, expected in diffs[:20]:
                self.stdout.write(f"enterprise {ent} chemical {chem} {month:%Y-%m}: stored {stored} expected {expected}")
            pairs = pair_mismatches()
            for ent, chem, stored, expected in pairs[:20]:
                self.stdout.write(f"enterprise {ent} chemical {chem} (all months): stored {stored} expected {expected}")
            if diffs or pairs:
                raise CommandError(f"{len(diffs)} summary months and {len(pairs)} per-pair rows differ from the "
                                   f"ledger; run manage.py rebuild_ledger_months")
            self.stdout.write("summary agrees with the ledger")
            return
        rebuild_ledger_months()
        self.stdout.write(f"{LedgerMonth.objects.count()} summary months rebuilt")
