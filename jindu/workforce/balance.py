"""Caseload balance suggestions for one town: deterministic, continuity first, ratios kept.

Pure Python (no models): :func:`suggest` takes the town's people (id, whether they count as
a current drug user or as abstinent three years, their worker) and the workers in post of
the town's squadron, and proposes who should hold whom.

Capacity: a worker's load is ``current / users_per_worker + abstinent / abstinent_per_worker``
(the staffing ratios, :mod:`jindu.workforce.staffing`) and may not exceed 1. Loads are
integers on the common denominator ``L = lcm(users_per_worker, abstinent_per_worker)``
(30 and 40: a current user weighs 4, an abstinent person 3, capacity 120), so nothing is
ever rounded.

Algorithm (each step in a fixed order, so the same input always gives the same answer):

1. **Keep.** For each worker (by id), their people are taken by person id (the oldest
   registrations first) and kept while the worker stays within capacity; the rest of an
   over-capacity worker's people are released. People whose worker is not in post in this
   town (left, moved, another town) are released too.
2. **Place.** Released and unassigned people are placed heaviest first (current users, then
   abstinent people; by id within each), each to the worker with the lowest load who can
   take them within capacity (ties: fewer people, then lower worker id) — first-fit
   decreasing onto the least-loaded worker.
3. **Unplaced.** Whoever fits nowhere is listed as unplaced and left as they are (unassigned,
   or with their over-capacity worker): the town needs more workers (its staffing gap), and
   the suggestion never breaks the ratio to hide that.

Nobody is moved only to even out loads: a person keeps their worker whenever that worker is
in post here and within the ratio (continuity of the relationship comes first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

CURRENT, ABSTINENT = "current", "abstinent"


@dataclass(frozen=True)
class CasePerson:
    id: int
    group: str  # CURRENT or ABSTINENT
    worker_id: int | None  # the worker (user id) holding the person now, if any


@dataclass(frozen=True)
class Move:
    person_id: int
    from_worker_id: int | None
    to_worker_id: int


@dataclass
class Suggestion:
    """The result: ``moves`` to make, how many people ``kept`` their worker, people left
    ``unplaced`` (no capacity), each worker's resulting ``loads`` (in units of
    ``capacity``) and ``counts``."""

    moves: list[Move] = field(default_factory=list)
    kept: int = 0
    unplaced: list[int] = field(default_factory=list)
    loads: dict[int, int] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)
    capacity: int = 1

    def load_share(self, worker_id: int) -> float:
        """A worker's load as a share of one worker's capacity (for display only)."""
        return self.loads.get(worker_id, 0) / self.capacity


def weights(users_per_worker: int, abstinent_per_worker: int) -> tuple[dict[str, int], int]:
    """Integer weight of each group and the capacity of one worker on the common denominator."""
    capacity = math.lcm(users_per_worker, abstinent_per_worker)
    return {CURRENT: capacity // users_per_worker, ABSTINENT: capacity // abstinent_per_worker}, capacity


def suggest(people: list[CasePerson], worker_ids: list[int], *, users_per_worker: int = 30,
            abstinent_per_worker: int = 40) -> Suggestion:
    """Balance suggestion for one town (see the module docstring). ``worker_ids`` are the user
    ids of the workers in post who may hold the town's people. Raises ``ValueError`` for a
    person whose group is neither :data:`CURRENT` nor :data:`ABSTINENT`."""
    weight, capacity = weights(users_per_worker, abstinent_per_worker)
    for p in people:
        if p.group not in weight:
            raise ValueError(f"person {p.id}: unknown group {p.group!r}")
    workers = sorted(set(worker_ids))
    result = Suggestion(loads={w: 0 for w in workers}, counts={w: 0 for w in workers}, capacity=capacity)
    held: dict[int, list[CasePerson]] = {w: [] for w in workers}
    pool: list[CasePerson] = []
    for p in people:
        if p.worker_id in held:
            held[p.worker_id].append(p)
        else:
            pool.append(p)
    for w in workers:
        for p in sorted(held[w], key=lambda p: p.id):
            if result.loads[w] + weight[p.group] <= capacity:
                result.loads[w] += weight[p.group]
                result.counts[w] += 1
                result.kept += 1
            else:
                pool.append(p)
    pool.sort(key=lambda p: (-weight[p.group], p.id))
    for p in pool:
        fits = [w for w in workers if result.loads[w] + weight[p.group] <= capacity]
        if not fits:
            result.unplaced.append(p.id)
            continue
        target = min(fits, key=lambda w: (result.loads[w], result.counts[w], w))
        result.loads[target] += weight[p.group]
        result.counts[target] += 1
        result.moves.append(Move(p.id, p.worker_id, target))
    return result
