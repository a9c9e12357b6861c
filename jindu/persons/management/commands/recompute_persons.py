"""``manage.py recompute_persons``: the nightly recomputation of every person's derived
status, tier and due items (run it from cron shortly after local midnight).

Runs in this process by default and prints a one-line summary; ``--enqueue`` starts it as a
background job instead (``tasks.recompute_all``, progress on the job row).
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Recompute every person's status, tier and due items (nightly)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="local date YYYY-MM-DD (default: today)")
        parser.add_argument("--chunk-size", type=int, default=0, help="people per transaction (default 5000)")
        parser.add_argument("--workers", type=int, default=1,
                            help="processes sharing the work (PostgreSQL; at most the number of cores)")
        parser.add_argument("--enqueue", action="store_true", help="run as a background job")

    def handle(self, *args, as_of=None, chunk_size=0, workers=1, enqueue=False, **options):
        try:
            day = dt.date.fromisoformat(as_of) if as_of else None
        except ValueError:
            raise CommandError(f"--as-of: expected YYYY-MM-DD, got {as_of!r}") from None
        if enqueue:
            from jindu.persons.tasks import start_recompute

            job = start_recompute(user=None, as_of=day, workers=workers)
            self.stdout.write(f"job {job.pk} queued")
            return
        from jindu.persons import bulk

        stats = bulk.recompute(as_of=day, chunk_size=chunk_size or bulk.DEFAULT_CHUNK, workers=workers)
        s = stats.as_dict()
        self.stdout.write(
            f"recomputed {s['people']} people as of {s['as_of']} in {s['seconds']} s: "
            f"{s['changed']} changed, {s['due_changed']} with new due items, {s['due_items']} due items")
