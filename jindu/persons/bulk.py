"""Recompute the derived status, tier and due items of many people at once (the nightly
recomputation, the demo seed, a change of configuration).

Why nightly: statuses and due items move with the calendar alone — a measure's term
expires, the three-year abstinence date arrives, a due date becomes overdue — and a change
to the rules' or the schedule's configuration applies to everyone.

How (:func:`recompute`): people are taken in chunks of consecutive primary keys
(``chunk_size``, 5,000 by default). For each chunk, in one transaction:

1. the chunk's person rows are locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
   ``IMMEDIATE`` transactions take the write lock), so a concurrent ``add_event`` either
   finished before and is read here, or waits and recomputes after us — never overwritten
   by an older snapshot;
2. the inputs are read with :func:`jindu.persons.derivation.load_inputs` (five queries for
   the whole chunk) and the current derived columns and due items with two more;
3. :func:`jindu.persons.derivation.derive` — the very function the per-person path uses —
   computes each person;
4. only what changed is written: the derived columns of changed people (one multi-row
   ``UPDATE … FROM unnest(…)`` of column arrays per 2,000 people on PostgreSQL,
   ``executemany`` on SQLite;
   Django's ``bulk_update`` builds one ``CASE WHEN`` per field over the whole batch, whose
   cost grows with the square of the batch), and the due items of people whose items
   changed (deleted and re-inserted; ``COPY`` on PostgreSQL).

The derived columns are excluded from the row history on purpose (``Person.history``), so
these direct writes lose no history. The number of queries per chunk is constant and memory
is bounded by the chunk, whatever the number of people.
"""

from __future__ import annotations

import datetime as dt
import time
from enum import Enum
from dataclasses import dataclass, field
from typing import Callable

from django.db import OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from jindu.core.imports.pipeline import copy_rows
from jindu.core.timeutils import local_today
from jindu.persons.derivation import DERIVED_FIELDS, Config, Inputs, derive, load_inputs
from jindu.persons.choices import EventKind
from jindu.persons.models import DueItem, Person
from jindu.persons.timeline import TimelineEvent

DEFAULT_CHUNK = 5_000
_UPDATE_BATCH = 2_000
#: SQL types of the derived columns, for the VALUES list of the PostgreSQL update.
_PG_TYPES = {"status": "varchar", "status_since": "date", "measure_end_on": "date", "report_due_on": "date",
             "last_detected_use_on": "date", "abstinent_three_years_on": "date", "serious_breach": "boolean",
             "tier": "varchar", "tier_assessed_on": "date", "next_due_on": "date", "derived_on": "date"}


@dataclass
class RecomputeStats:
    """What one :func:`recompute` run did. ``people``: people recomputed; ``changed``: people
    whose derived columns changed (``derived_on`` alone does not count); ``due_changed``:
    people whose due items were rewritten; ``due_items``: due items after the run;
    ``seconds``: wall time."""

    as_of: dt.date
    people: int = 0
    changed: int = 0
    due_changed: int = 0
    due_items: int = 0
    chunks: int = 0
    seconds: float = 0.0
    status_counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"as_of": self.as_of.isoformat(), "people": self.people, "changed": self.changed,
                "due_changed": self.due_changed, "due_items": self.due_items, "chunks": self.chunks,
                "seconds": round(self.seconds, 2), "status_counts": dict(self.status_counts)}


def recompute(*, as_of: dt.date | None = None, people: Q | None = None, chunk_size: int = DEFAULT_CHUNK,
              progress: Callable[[int, int], None] | None = None, config: Config | None = None,
              workers: int = 1) -> RecomputeStats:
    """Recompute every person (or those matching the ``Q`` on :class:`Person` in ``people``)
    as of the local date ``as_of`` (default: today).

    ``progress(done, total)`` is called after each chunk (a ``JobReporter.progress``).
    Each chunk commits on its own, so an interrupted run leaves every person either fully
    recomputed or as before; running it again finishes the job. A chunk that meets a
    deadlock (PostgreSQL) is retried up to three times.

    ``workers`` > 1 spreads the chunks over that many processes (PostgreSQL only, and only
    outside a transaction — each process needs its own connection and must see committed
    data; otherwise the run stays in this process). The work is CPU-bound Python (the rules
    and the schedule), so more workers than cores gain nothing. Returns :class:`RecomputeStats`.
    """
    as_of = as_of or local_today()
    config = config or Config()
    started = time.perf_counter()
    base = Person.objects.all() if people is None else Person.objects.filter(people)
    total = base.count() if progress or workers > 1 else 0
    if workers > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block and total > chunk_size:
        stats = _recompute_parallel(base, people, as_of, chunk_size, workers, total, progress)
    else:
        stats = RecomputeStats(as_of=as_of)
        _recompute_range(base, people is None, as_of, chunk_size, config, stats, progress, total)
    stats.seconds = time.perf_counter() - started
    return stats


def _recompute_range(base, whole_range: bool, as_of: dt.date, chunk_size: int, config: Config,
                     stats: RecomputeStats, progress=None, total: int = 0, *, first: int = 0,
                     last_pk: int | None = None) -> None:
    """Recompute the people of ``base`` with ``first`` < pk (≤ ``last_pk``), chunk by chunk."""
    last = first
    while True:
        chunk = base.filter(pk__gt=last)
        if last_pk is not None:
            chunk = chunk.filter(pk__lte=last_pk)
        pks = list(chunk.order_by("pk").values_list("pk", flat=True)[:chunk_size])
        if not pks:
            break
        for attempt in range(3):
            try:
                with transaction.atomic():
                    _recompute_chunk(pks, as_of, config, stats, whole_range=whole_range)
                break
            except OperationalError:
                if attempt == 2 or connection.vendor != "postgresql":
                    raise
        last = pks[-1]
        stats.people += len(pks)
        stats.chunks += 1
        if progress:
            progress(stats.people, max(total, stats.people))


def _ranges(base, chunk_size: int, per_range: int) -> list[tuple[int, int]]:
    """Split ``base``'s primary keys into ``(after, up_to)`` ranges of about ``per_range`` people."""
    bounds, last = [], 0
    while True:
        edge = list(base.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[per_range - 1:per_range])
        if not edge:
            bounds.append((last, None))
            return bounds
        bounds.append((last, edge[0]))
        last = edge[0]


def _range_worker(args) -> dict:
    """One worker process's share: recompute a primary-key range (runs in a forked child)."""
    people, after, up_to, as_of, chunk_size = args
    stats = RecomputeStats(as_of=as_of)
    base = Person.objects.all() if people is None else Person.objects.filter(people)
    _recompute_range(base, people is None, as_of, chunk_size, Config(), stats, first=after, last_pk=up_to)
    connection.close()
    return {"people": stats.people, "changed": stats.changed, "due_changed": stats.due_changed,
            "due_items": stats.due_items, "chunks": stats.chunks, "status_counts": stats.status_counts}


def _recompute_parallel(base, people, as_of, chunk_size, workers, total, progress) -> RecomputeStats:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from django.db import connections

    ranges = _ranges(base, chunk_size, chunk_size * 4)
    connections.close_all()  # each forked worker opens its own connection
    stats = RecomputeStats(as_of=as_of)
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_range_worker, (people, after, up_to, as_of, chunk_size)) for after, up_to in ranges]
        for future in as_completed(futures):
            part = future.result()
            for key in ("people", "changed", "due_changed", "due_items", "chunks"):
                setattr(stats, key, getattr(stats, key) + part[key])
            for status, n in part["status_counts"].items():
                stats.status_counts[status] = stats.status_counts.get(status, 0) + n
            if progress:
                progress(stats.people, max(total, stats.people))
    return stats


def _recompute_chunk(pks: list[int], as_of: dt.date, config: Config, stats: RecomputeStats, *,
                     whole_range: bool) -> None:
    lo, hi = pks[0], pks[-1]
    # With every person in [lo, hi] in the chunk, a range filter uses the (person, …) indexes
    # as a range scan; with a subset, the explicit list.
    person_q = Q(person_id__gte=lo, person_id__lte=hi) if whole_range else Q(person_id__in=pks)
    own_q = Q(pk__gte=lo, pk__lte=hi) if whole_range else Q(pk__in=pks)
    current = {row[0]: row[1:] for row in
               Person.objects.select_for_update().filter(own_q).order_by("pk").values_list("pk", *DERIVED_FIELDS)}
    inputs = load_inputs(person_q)
    due_now: dict[int, set] = {}
    for pid, kind, due_on, basis in DueItem.objects.filter(person_q).values_list("person_id", "kind", "due_on",
                                                                                  "basis"):
        due_now.setdefault(pid, set()).add((kind, due_on, basis))

    empty = Inputs()
    updates: list[tuple] = []
    due_rewrite: list[int] = []
    due_rows: list[tuple] = []
    counts = stats.status_counts
    for pid, old in current.items():
        derived = derive(inputs.get(pid, empty), as_of=as_of, config=config)
        new = tuple(derived.values[f] for f in DERIVED_FIELDS)
        status = str(new[0])
        counts[status] = counts.get(status, 0) + 1
        if new != old:
            updates.append((pid, *new))
            if new[:-1] != old[:-1]:
                stats.changed += 1
        if set(derived.due) != due_now.get(pid, set()):
            due_rewrite.append(pid)
            due_rows.extend((pid, k, d, b) for k, d, b in derived.due)
        stats.due_items += len(derived.due)
    if updates:
        _write_derived(updates)
    if due_rewrite:
        stats.due_changed += len(due_rewrite)
        DueItem.objects.filter(person_id__in=due_rewrite).delete()
        insert_due(due_rows)


def derive_new(people: list, events: list[list], *, as_of: dt.date, config: Config | None = None) -> list[tuple]:
    """Derive the status, tier and due items of people about to be created: ``people`` are
    unsaved :class:`~jindu.persons.models.Person` instances, ``events[i]`` the unsaved
    :class:`~jindu.persons.models.Event` instances that will be person ``i``'s whole record
    (no contacts, assessments, plans or handovers yet), in the order they will be inserted.

    Sets each person's derived columns (:data:`~jindu.persons.derivation.DERIVED_FIELDS`)
    so they are inserted with them, and returns each person's due items
    ``((kind, due_on, basis), …)`` to insert once the person has a key — what
    :func:`recompute` would store for them afterwards, without reading them back or updating
    the rows just inserted (the registry import's new people,
    :func:`jindu.persons.services.bulk_registry.register_people`). The events have no keys
    yet: each gets its position as a provisional id, which keeps what :func:`derive` reads
    of ids — the order of same-day events (keys are assigned in insertion order). Raises
    ``ValueError`` for a correction event (it names another event by id)."""
    config = config or Config()
    dues: list[tuple] = []
    position = 0
    for person, record in zip(people, events, strict=True):
        timeline = []
        for e in record:
            if e.corrects_id is not None or str(e.kind) == EventKind.CORRECTION:
                raise ValueError("derive_new: a new person's record has no corrections")
            position += 1
            timeline.append(TimelineEvent(str(e.kind), e.occurred_on, position, e.result or None, e.term_months,
                                          e.days, e.approved, None))
        timeline.sort(key=lambda t: (t.occurred_on, t.id))  # load_inputs' order
        derived = derive(Inputs(events=timeline), as_of=as_of, config=config)
        for name in DERIVED_FIELDS:
            setattr(person, name, derived.values[name])
        dues.append(derived.due)
    return dues


def _write_derived(rows: list[tuple]) -> None:
    """Set the derived columns of ``rows`` = ``[(pk, *values in DERIVED_FIELDS order)]``.

    PostgreSQL: one ``UPDATE … FROM unnest(%s::bigint[], %s::varchar[], …)`` per
    :data:`_UPDATE_BATCH` people — one array parameter per column, so the statement text is
    the same whatever the batch (a ``VALUES`` list of 2,000 × 12 placeholders cost more in
    psycopg's client-side query parsing than the update itself). SQLite: ``executemany``."""
    table = connection.ops.quote_name(Person._meta.db_table)
    columns = [Person._meta.get_field(f).column for f in DERIVED_FIELDS]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            assignments = ", ".join(f"{c} = v.{c}" for c in columns)
            arrays = ", ".join(["%s::bigint[]", *(f"%s::{_PG_TYPES[f]}[]" for f in DERIVED_FIELDS)])
            sql = (f"UPDATE {table} AS p SET {assignments} FROM unnest({arrays}) AS v(id, {', '.join(columns)}) "
                   f"WHERE p.id = v.id")
            for start in range(0, len(rows), _UPDATE_BATCH):
                batch = rows[start:start + _UPDATE_BATCH]
                cursor.execute(sql, [[_plain(v) for v in column] for column in zip(*batch)])
        else:
            assignments = ", ".join(f"{c} = %s" for c in columns)
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s",
                               [(*row[1:], row[0]) for row in rows])


def _plain(value):
    """A choice member as its stored value (arrays are adapted by their elements' type)."""
    return value.value if isinstance(value, Enum) else value


def insert_due(rows: list[tuple]) -> None:
    """Insert due items ``[(person pk, kind, due_on, basis)]`` (version 1, timestamps now)."""
    if not rows:
        return
    now = timezone.now()
    if connection.vendor == "postgresql":
        columns = ["version", "created_at", "updated_at", "person_id", "kind", "due_on", "basis"]
        copy_rows(DueItem._meta.db_table, columns,
                  [(1, now, now, pid, kind, due_on, basis) for pid, kind, due_on, basis in rows])
        return
    DueItem.objects.bulk_create(
        [DueItem(person_id=pid, kind=kind, due_on=due_on, basis=basis, created_at=now, updated_at=now)
         for pid, kind, due_on, basis in rows], batch_size=2_000)
