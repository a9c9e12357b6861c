"""Registering many people at once: what :func:`jindu.persons.services.register_person`
does for one person, for a batch, with a constant number of queries per batch.

Used by the registry import (:class:`jindu.persons.importers.PersonImporter`), whose
100,000-row files would otherwise cost about twenty queries per person. The outcome for
each person is the one ``register_person`` gives — same checks in the same order, same
messages, same records — only the writes are grouped:

1. :func:`prepare_registration` (per person, no write, no query): the residence must be
   a village or grid; birth date and sex filled from (and checked against) a resident
   identity number (GB 11643-1999); the name's private-use characters flagged; the
   identity number refused when already registered (``registered``: the blind indexes
   found by :func:`registered_people`, one query per batch); the first timeline events
   checked as ``add_event`` checks them. The model's ``full_clean`` is *not* repeated: the
   caller has run it through the registration form on the same values (the import form's
   ``_post_clean``; the person checked is that form's instance), and the fields that form
   leaves out take valid defaults (``registered_on`` today, ``sex`` unknown, the resident
   identity card).
2. :func:`register_people` (one transaction, the caller's): inserts the people
   (:func:`jindu.core.imports.bulk.insert_rows`: the rows
   ``simple_history.utils.bulk_create_with_history`` writes, at about half its cost) and
   asks for the scope re-check of every person against ``restrict(user, "add")`` and for
   the near-duplicate candidates (one query each); then, in a
   :func:`jindu.core.imports.pipeline.deferred` block, writes the people's row history,
   their substances, the events with history, one ``persons.person_registered`` audit event
   per person (as ``register_person`` writes, bulk-inserted) and the due items; makes the
   social-worker assignment ``register_person`` makes for assigned-only grants (with its
   history row); and proposes the near-duplicate merges (same name and birth date, or same
   phone, against everyone registered before — earlier rows of the same import included, as
   one by one). The status, tier and due items are derived before the people are inserted
   (:func:`jindu.persons.bulk.derive_new`) — the rules the per-person path applies.

   During an import's commit on PostgreSQL the people are handed to the import's writer
   thread at once (:func:`~jindu.core.imports.pipeline.queued`) and the two queries run
   there after them (:func:`~jindu.core.imports.pipeline.query`), while the other rows are
   prepared here; the deferred block's rows (nothing later in the batch reads them) are sent
   while the next rows are validated. Elsewhere every write and query is made at once, in
   the order given.

Differences from one-by-one registration, none visible in the registry: the history rows
are attributed to the importing user even in a background job (``register_person`` leaves
them to the request, i.e. none in a job), and a concurrent registration of the same number
between the check and the insert fails the whole batch (the caller then falls back to one
by one to say which row).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils.translation import gettext as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from jindu.core.audit import _actor, current_context
from jindu.core.imports.bulk import KeyPool, insert_links, insert_rows, instance_maker, reserve_keys
from jindu.core.imports.pipeline import Result, deferred, query, queued
from jindu.core.models import AuditEvent
from jindu.core.models.base import normalize_text_fields
from jindu.core.scope import ADD
from jindu.core.text import needs_manual_check
from jindu.core.timeutils import local_today
from jindu.persons.choices import ProposalStatus
from jindu.persons.models import Event, MergeProposal, Person
from jindu.persons.services.registry import (
    EVENT_FIELDS, PERSON_FIELDS, DuplicatePersonError, _check_event, _check_residence, _fill_from_identity, _summary,
)

#: Rows per INSERT statement.
INSERT_BATCH = 1000

_makers: dict[type, Any] = {}


def _new(model: type, **values: Any) -> Any:
    """``model(**values)`` (:func:`jindu.core.imports.bulk.instance_maker`: the same
    instance, built cheaply; thousands are built per batch)."""
    make = _makers.get(model)
    if make is None:
        make = _makers[model] = instance_maker(model)
    return make(**values)


@dataclass
class PendingRegistration:
    """A person checked by :func:`prepare_registration`, not yet written: the unsaved
    ``person``, its ``drugs``, unsaved ``events`` and the ``data`` it was registered
    from (for the audit event)."""

    person: Person
    drugs: list[Any]
    events: list[Event]
    data: Mapping[str, Any]
    assign_to_user: bool = False
    extra: Any = field(default=None, repr=False)


def digest_of(person: Person) -> str | None:
    """The identity number's blind index, as the database will store it."""
    return Person._meta.get_field("identity_number_digest").compute(person)


def registered_people(digests: Iterable[str]) -> dict[str, list[int]]:
    """Who is already registered under each of ``digests`` (blind indexes), anyone's, in or
    out of any scope (one query): ``{digest: [person pk, …]}`` for the digests found. A
    person is registered once (DESIGN "Personal data")."""
    return look_up_registered(digests)()


def look_up_registered(digests: Iterable[str]) -> Callable[[], dict[str, list[int]]]:
    """:func:`registered_people`'s query, handed now to the import's writer (run at once
    without one: :func:`jindu.core.imports.pipeline.query`); call what it returns for the
    answer."""
    digests = [d for d in set(digests) if d]
    if not digests:
        return dict
    result = query(*Person.objects.filter(identity_number_digest__in=digests)
                   .values_list("identity_number_digest", "pk").query.sql_with_params())

    def found() -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for digest, pk in result.rows():
            out.setdefault(digest, []).append(pk)
        return out

    return found


def prepare_registration(*, user: Any, data: Mapping[str, Any], drugs: Iterable[Any] = (),
                         events: Iterable[Mapping[str, Any]] = (), registered: set[str],
                         today: dt.date | None = None, person: Person | None = None,
                         event_checks: dict | None = None) -> PendingRegistration:
    """Check one registration as :func:`register_person` does before it writes.

    ``data``: keys of :data:`PERSON_FIELDS` (validated by the registration form);
    ``registered``: blind indexes already registered (:func:`registered_people`).
    ``person``: the unsaved person the registration form built from ``data`` and cleaned
    (its ``instance``), used instead of building it again. ``event_checks``: a dict kept by
    the caller across calls, remembering the verdict on identical events. Raises
    ``ValidationError`` (field → Chinese message), :class:`DuplicatePersonError` when the
    number is registered. No query, no write.
    """
    today = today or local_today()
    if person is None:
        person = Person(**{k: v for k, v in data.items() if k in PERSON_FIELDS})
        normalize_text_fields(person)
    if not person.registered_on:
        person.registered_on = today
    _check_residence(person.residence_division)
    _fill_from_identity(person)
    person.needs_name_check = needs_manual_check(person.name)
    if digest_of(person) in registered:
        raise DuplicatePersonError({"identity_number": _("该证件号码已登记，请勿重复登记")}, code="duplicate")
    # The recorder by key: the event is only written, and the descriptor's checks on a
    # related object cost more than the rest of the event.
    recorded_by_id = getattr(user, "pk", None)
    checked = []
    for event_data in events:
        values = {k: v for k, v in event_data.items() if k in EVENT_FIELDS}
        event = _new(Event, person=person, recorded_by_id=recorded_by_id, **values)
        _check_event_cached(event, event_checks)
        checked.append(event)
    return PendingRegistration(person=person, drugs=list(drugs), events=checked, data=data)


_EVENT_CHECKED = ("kind", "occurred_on", "source", "document_number", "result", "substance_id", "term_months",
                  "days", "approved", "notes")


def _check_event_cached(event: Event, cache: dict | None) -> None:
    """``add_event``'s checks and the event's ``full_clean`` (its relations excepted: the
    person is not saved yet, the recorder is the importing user); the verdict — and the
    cleaned text — depend only on the event's own values, so identical events are judged
    once per ``cache``."""
    key = None
    if cache is not None:
        key = (tuple(getattr(event, f) for f in _EVENT_CHECKED), local_today())
        hit = cache.get(key)
        if isinstance(hit, ValidationError):
            raise ValidationError(hit.error_dict if hasattr(hit, "error_dict") else hit.messages)
        if hit is not None:
            for name, value in hit.items():
                setattr(event, name, value)
            return
    try:
        _check_event(event)
        event.full_clean(exclude=["person", "recorded_by", "substance", "corrects"])
    except ValidationError as exc:
        if cache is not None:
            cache[key] = exc
        raise
    if cache is not None:
        cache[key] = {f: getattr(event, f) for f in ("document_number", "notes")}


def register_people(*, user: Any, pending: Sequence[PendingRegistration],
                    as_of: dt.date | None = None, key_pool: KeyPool | None = None) -> list[Person | PermissionDenied]:
    """Write every registration of ``pending`` (from :func:`prepare_registration`) inside
    the caller's transaction; returns, per entry, the saved :class:`Person` or the
    ``PermissionDenied`` :func:`register_person` would have raised (the person left the
    user's scope: the caller must roll back, as the import does when any row fails).

    ``key_pool``: where the primary keys of the people, events and audit events are taken
    from (the import reserves each batch's ahead, :class:`KeyPool`); by default they are
    taken now, in one statement.

    Raises ``IntegrityError`` when a number was registered concurrently (nothing of the
    batch stays written if the caller wraps the call in a savepoint: during an import's
    commit the error is raised here, inside it, and the rollback to it also drops what the
    batch kept for the writer).
    """
    if not pending:
        return []
    from jindu.persons import bulk

    dues = bulk.derive_new([p.person for p in pending], [p.events for p in pending],
                           as_of=as_of or local_today())
    events = []
    for entry in pending:
        for event in entry.events:
            event.person = entry.person
            events.append(event)
    counts = [(Person, len(pending)), (Event, len(events)), (AuditEvent, len(pending))]
    keys = (key_pool.take(counts) if key_pool is not None else reserve_keys(counts)) or {}
    # The people themselves first, handed to the import's writer at once (queued: during an
    # import's commit on PostgreSQL the server writes them, then runs the scope re-check and
    # the near-duplicate look-ups, while the rest is prepared here); everything else in a
    # deferred block — no later statement of the batch reads it, so it is written while
    # the next rows are validated (jindu.core.imports.pipeline).
    with queued():
        people = insert_rows([p.person for p in pending], history_user=_actor(user), defer_history=True,
                             keys=keys.get(Person))
    ids = [p.pk for p in people]
    visible_rows = _visible_query(user, ids)
    candidates = _near_duplicate_query(people)

    with deferred():
        insert_links(Person._meta.get_field("drugs"),
                     [(p.person.pk, d.pk) for p in pending for d in _unique(p.drugs)])
        if events:
            insert_rows(events, history_user=_actor(user), keys=keys.get(Event))
        _audit(user, pending, keys=keys.get(AuditEvent))
        bulk.insert_due([(person.pk, *item) for person, due in zip(people, dues) for item in due])

        # register_person: an assigned-only worker who registers someone becomes their
        # worker, else they could not see the person they just registered; then the scope
        # re-check. (A queued write's error — a number registered meanwhile — is raised
        # here, inside the deferred block, whose writes it drops.)
        visible = set(pk for (pk,) in visible_rows.rows()).intersection(ids)
        hidden = [p for p in people if p.pk not in visible]
        if hidden and getattr(user, "pk", None) is not None:
            for person in hidden:
                person.assigned_worker = user
            bulk_update_with_history(hidden, Person, ["assigned_worker"], batch_size=INSERT_BATCH,
                                     default_user=_actor(user))
            visible |= set(pk for (pk,) in _visible_query(user, [p.pk for p in hidden]).rows())
        _propose_duplicates(user, people, candidates)
    return [p if p.pk in visible else PermissionDenied(_("该记录超出您的管辖范围，操作已撤销。")) for p in people]


def _visible_query(user: Any, ids: list[int]) -> Result:
    """Which of ``ids`` lie in ``restrict(user, "add")`` (one query, run by the import's
    writer after the queued writes: :func:`jindu.core.imports.pipeline.query`): rows of
    one primary key, to intersect with ``ids``. Asked by primary-key range: the keys of one
    insert are ascending and mostly consecutive, and a list of a thousand keys beside a
    scope's division list makes SQLite probe every pair of them."""
    qs = (Person.objects.restrict(user, ADD).filter(pk__gte=min(ids), pk__lte=max(ids)).order_by()
          .values_list("pk"))
    return query(*qs.query.sql_with_params())


def _unique(items: Iterable[Any]) -> list[Any]:
    seen, out = set(), []
    for item in items:
        if item.pk not in seen:
            seen.add(item.pk)
            out.append(item)
    return out


def _audit(user: Any, pending: Sequence[PendingRegistration], *, keys: list[int] | None = None) -> None:
    """One ``persons.person_registered`` event per person, the fields :func:`record_event`
    writes, in one insert (``keys``: reserved primary keys, see :func:`reserve_keys`)."""
    actor = _actor(user)
    actor_id, actor_repr = (actor.pk, actor.get_username()) if actor is not None else (None, "system")
    ctx = current_context()
    content_type_id = ContentType.objects.get_for_model(Person).pk
    insert_rows([
        _new(
            AuditEvent, actor_id=actor_id, actor_repr=actor_repr,
            action="persons.person_registered", target_type_id=content_type_id, target_id=str(p.person.pk),
            target_repr=str(p.person)[:255],
            changes={**_summary(p.data), "drugs": sorted(d.pk for d in _unique(p.drugs))},
            reason="", ip_address=ctx.ip_address, request_id=ctx.request_id,
        )
        for p in pending
    ], keys=keys)


def _near_duplicate_query(people: Sequence[Person]) -> tuple[Result | None, Result | None]:
    """The look-ups of :func:`_propose_duplicates` (run by the import's writer, see
    :func:`jindu.core.imports.pipeline.query`): everyone live with the same name and birth
    date as one of ``people``, and with the same phone, in Person's default order
    (``-registered_on, -pk``, the order :func:`near_duplicates` iterates in); ``None`` for a
    look-up with nothing to look for.

    The queries are written out: their thousands of parameters would each go through the
    ORM's lookup machinery."""
    quote, adapt = connection.ops.quote_name, connection.ops.adapt_datefield_value
    meta = Person._meta
    table = quote(meta.db_table)
    col = {name: quote(meta.get_field(name).column) for name in ("name", "birth_date", "phone", "merged_into",
                                                                   "registered_on")}
    order = f"ORDER BY {col['registered_on']} DESC, {table}.{quote(meta.pk.column)} DESC"
    live = f"FROM {table} WHERE {col['merged_into']} IS NULL"

    def marks(values: list) -> str:
        return ", ".join(["%s"] * len(values))

    by_name = by_phone = None
    named = [p for p in people if p.birth_date]
    phoned = [p for p in people if p.phone]
    if named:
        names, born = sorted({p.name for p in named}), sorted({adapt(p.birth_date) for p in named})
        by_name = query(f"SELECT {col['name']}, {col['birth_date']}, {quote(meta.pk.column)} {live} "
                        f"AND {col['name']} IN ({marks(names)}) AND {col['birth_date']} IN ({marks(born)}) {order}",
                        [*names, *born])
    if phoned:
        phones = sorted({p.phone for p in phoned})
        by_phone = query(f"SELECT {col['phone']}, {quote(meta.pk.column)} {live} "
                         f"AND {col['phone']} IN ({marks(phones)}) {order}", phones)
    return by_name, by_phone


def _propose_duplicates(user: Any, people: Sequence[Person],
                        candidates: tuple[Result | None, Result | None]) -> None:
    """:func:`propose_duplicates` for each new person against everyone registered before
    it, from the ``candidates`` :func:`_near_duplicate_query` found: same name and birth
    date, same phone. Before it: anyone not of this batch (the batch's people are visible
    to no one else until the import commits), and the batch's people of lower primary key
    (earlier rows). Not "any lower key": keys are reserved a batch ahead
    (:class:`~jindu.core.imports.bulk.KeyPool`), so someone registered meanwhile may hold a
    higher one."""
    by_name: dict[tuple, list[int]] = {}
    by_phone: dict[str, list[int]] = {}
    named, phoned = candidates
    for name, day, pk in named.rows() if named is not None else ():
        by_name.setdefault((name, day), []).append(pk)
    for phone, pk in phoned.rows() if phoned is not None else ():
        by_phone.setdefault(phone, []).append(pk)
    if not by_name and not by_phone:
        return

    proposals = []
    batch = {p.pk for p in people}
    for person in people:
        found: dict[int, list[str]] = {}
        if person.birth_date:
            for pk in by_name.get((person.name, person.birth_date), ()):
                if pk < person.pk or pk not in batch:
                    found.setdefault(pk, []).append("same_name_and_birth_date")
        if person.phone:
            for pk in by_phone.get(person.phone, ()):
                if pk < person.pk or pk not in batch:
                    found.setdefault(pk, []).append("same_phone")
        for other, reasons in found.items():
            proposals.append(MergeProposal(keep_id=other, duplicate_id=person.pk, reasons=reasons,
                                           status=ProposalStatus.PENDING))
    if proposals:
        bulk_create_with_history(proposals, MergeProposal, batch_size=INSERT_BATCH, default_user=_actor(user))
