"""Which item each trial shows, and the plan of a participant's trials (pure functions of counts and seeds).

Items are given out when a trial is *shown*, not when a participant consents: a participant who leaves
after consenting holds nothing, and one who leaves mid-trial holds that trial's item only for a while
(``StudyStore``'s hold time). Each trial gets an item among those with the fewest responses (counting
the trials on screen now), so responses per item stay within one of each other.

Two things keep the experiment sound beside the balance. Each participant should see a mix of subfields,
and trial position must not predict the subfield. So at consent each participant's subfields are
*planned*: those of the items :func:`balanced_items` would choose for them then (subfields in proportion to
the items they have left among the least answered, so that large subfields are used up as fast as small
ones), shuffled with the participant's recorded seed, so that any position is equally likely to hold any
planned subfield. At show time the trial gets an item of its planned subfield when one is among the least
answered. The A/B side of each position is drawn from the same seed.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

CATCH = ""  # a plan's entry for the catch trial's position


@dataclass(frozen=True)
class Plan:
    """A participant's trials as planned at consent: the subfield of each position (``CATCH`` at the
    catch trial's) and the catch item (None without catch trials)."""

    subfields: tuple[str, ...]
    catch_item: int | None = None

    def to_json(self) -> dict[str, object]:
        return {"subfields": list(self.subfields), "catch_item": self.catch_item}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Plan:
        catch = data.get("catch_item")
        return cls(tuple(str(name) for name in data["subfields"]), None if catch is None else int(catch))


def balanced_items(subfields: Mapping[int, str], counts: Mapping[int, int], n: int, rng: random.Random) -> list[int]:
    """``n`` distinct item ids, always among the least answered so far (so every item gets a similar
    number of responses), and among those from the subfields this participant has seen least (so they mix).

    ``subfields``: item id -> subfield; ``counts``: item id -> responses so far (missing = 0).
    """
    remaining = {item_id: counts.get(item_id, 0) for item_id in subfields}
    seen: dict[str, int] = {}
    chosen: list[int] = []
    for _ in range(min(n, len(remaining))):
        fewest = min(remaining.values())
        by_subfield: dict[str, list[int]] = {}
        for item_id, count in remaining.items():
            if count == fewest:
                by_subfield.setdefault(subfields[item_id], []).append(item_id)
        # subfields in proportion to the items they have left at this level (D'Hondt): the participant's
        # trials mix, and large subfields are used up as fast as small ones, so later participants mix too
        subfield = max(by_subfield, key=lambda name: (len(by_subfield[name]) / (seen.get(name, 0) + 1), rng.random()))
        item_id = rng.choice(by_subfield[subfield])
        chosen.append(item_id)
        seen[subfield] = seen.get(subfield, 0) + 1
        del remaining[item_id]  # once per participant
    return chosen


def plan_trials(
    subfields: Mapping[int, str],
    counts: Mapping[int, int],
    n: int,
    order_seed: int,
    rng: random.Random,
    catch_items: Sequence[int] = (),
) -> Plan:
    """A new participant's plan: the subfields of the ``n`` items :func:`balanced_items` would give them now,
    shuffled with ``random.Random(order_seed)`` (so trial position is independent of subfield), and with catch
    items one more trial, a random catch item at a random position."""
    planned = [subfields[item] for item in balanced_items(subfields, counts, n, rng)]
    order = random.Random(order_seed)
    planned.sort()
    order.shuffle(planned)
    catch_item = None
    if catch_items:
        catch_item = order.choice(sorted(catch_items))
        planned.insert(order.randrange(len(planned) + 1), CATCH)
    return Plan(tuple(planned), catch_item)


def altered_first(order_seed: int, position: int) -> bool:
    """Whether the altered abstract is shown as A at ``position`` (reproducible from the participant's seed)."""
    return random.Random(f"{order_seed}:{position}").random() < 0.5


def choose_item(
    counts: Mapping[int, int],
    subfields: Mapping[int, str],
    planned: str,
    later: Sequence[str],
    seen: Mapping[str, int],
    rng: random.Random,
) -> int:
    """The item for a trial: one among the ``counts`` (eligible item id -> responses + trials on screen) with
    the fewest; of those, one of the ``planned`` subfield if any; else of the subfields still planned ``later``
    for this participant if any, else of any; the subfield chosen as :func:`balanced_items` does (most items
    at this level for the times this participant has ``seen`` it)."""
    fewest = min(counts.values())
    by_subfield: dict[str, list[int]] = {}
    for item in sorted(counts):
        if counts[item] == fewest:
            by_subfield.setdefault(subfields[item], []).append(item)
    if planned in by_subfield:
        return rng.choice(by_subfield[planned])
    options = [name for name in by_subfield if name in set(later)] or list(by_subfield)
    subfield = max(options, key=lambda name: (len(by_subfield[name]) / (seen.get(name, 0) + 1), rng.random()))
    return rng.choice(by_subfield[subfield])


def assign_item(
    plan: Plan,
    position: int,
    counts: Mapping[int, int],
    given: set[int],
    subfields: Mapping[int, str],
    rng: random.Random,
) -> tuple[int, Plan]:
    """The item for the participant's trial at ``position`` (:func:`choose_item` among the items not ``given``
    to them yet; ``counts``: responses + trials on screen of others) and their plan after it: when the item is
    of a subfield planned for a later trial instead, that trial gets this one's subfield (the mix stays)."""
    eligible = {item: counts.get(item, 0) for item in subfields if item not in given}
    if not eligible:  # more trials than items: any item again
        eligible = {item: counts.get(item, 0) for item in subfields}
    seen = Counter(subfields[item] for item in given if item in subfields)
    planned, later = plan.subfields[position], plan.subfields[position + 1 :]
    item = choose_item(eligible, subfields, planned, later, seen, rng)
    if subfields[item] != planned and subfields[item] in later:
        swapped = list(plan.subfields)
        other = position + 1 + later.index(subfields[item])
        swapped[position], swapped[other] = swapped[other], swapped[position]
        plan = Plan(tuple(swapped), plan.catch_item)
    return item, plan
