"""``manage.py reconcile_precursors``: the closed-loop reconciliation of the precursor
ledgers. Run it full every night shortly after local midnight (deadlines and matching
windows move with the date) and ``--incremental`` after imports or as often as wanted
during the day.

Runs in this process by default and prints a summary; ``--enqueue`` starts it as a
background job instead (``tasks.reconcile``, progress on the job row).
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run the precursor reconciliation rules and record discrepancies (full, or --incremental)."

    def add_arguments(self, parser):
        parser.add_argument("--incremental", action="store_true",
                            help="only the enterprise/chemical pairs touched since the previous run")
        parser.add_argument("--as-of", help="reconciliation date, local YYYY-MM-DD (default: today)")
        parser.add_argument("--enqueue", action="store_true", help="run as a background job")

    def handle(self, *args, incremental=False, as_of=None, enqueue=False, **options):
        try:
            day = dt.date.fromisoformat(as_of) if as_of else None
        except ValueError:
            raise CommandError(f"--as-of: expected YYYY-MM-DD, got {as_of!r}") from None
        mode = "incremental" if incremental else "full"
        if enqueue:
            from jindu.precursors.tasks import start_reconciliation

            job = start_reconciliation(user=None, mode=mode, as_of=day)
            self.stdout.write(f"job {job.pk} queued")
            return
        from jindu.precursors.reconciliation import run_reconciliation

        run = run_reconciliation(mode=mode, as_of=day)
        stats = run.stats
        seconds = sum(stats["seconds"].values())
        self.stdout.write(
            f"reconciliation {run.mode} as of {run.as_of}: {run.pairs_checked} pairs checked in {seconds:.1f} s; "
            f"{stats['found']} findings, {run.raised} new, {stats['refreshed']} refreshed, "
            f"{stats['cleared']} no longer detected")
        for code, n in sorted(stats["findings"].items()):
            self.stdout.write(f"  {code}: {n}")
