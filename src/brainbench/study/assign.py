"""Which item each trial shows, and the plan of a participant's trials (pure functions of counts and seeds).

Items are given out when a trial is *shown*, not when a participant consents: a participant who leaves
after consenting holds nothing, and one who leaves mid-trial holds that trial's item only for a while
(``StudyStore``'s hold time). Each trial gets an item among those with the fewest responses (counting
the trials on screen now), so responses per item stay within one of each other.

Two things keep the experiment sound beside the balance. Trial position must not predict the subfield:
each participant's subfields are planned at consent (in proportion to the subfields' sizes, every
subfield once when there are enough trials) and shuffled with the participant's recorded seed, so any
position is equally likely to hold any planned subfield; at show time the planned subfield is used when
it has an item among the least answered. And the A/B side of each trial is drawn from the same seed.
"""

from __future__ import annotations

import math
import random
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


def subfield_counts(sizes: Mapping[str, int], n: int, rng: random.Random) -> dict[str, int]:
    """How many of ``n`` trials go to each subfield: every subfield once when ``n`` allows, the rest in
    proportion to ``sizes`` (whole parts first, the remainders drawn at random in proportion to their
    fractions, so that over many participants each subfield's share matches its size)."""
    names = sorted(name for name, size in sizes.items() if size > 0)
    if n < len(names):
        chosen: list[str] = []
        pool = {name: sizes[name] for name in names}
        for _ in range(n):  # n distinct subfields, each drawn in proportion to its size
            name = rng.choices(sorted(pool), weights=[pool[key] for key in sorted(pool)])[0]
            chosen.append(name)
            del pool[name]
        return {name: int(name in chosen) for name in names}
    counts = dict.fromkeys(names, 1)
    rest = n - len(names)
    total = sum(sizes[name] for name in names)
    shares = {name: rest * sizes[name] / total for name in names}
    for name in names:
        counts[name] += math.floor(shares[name])
    fractions = {name: shares[name] - math.floor(shares[name]) for name in names}
    for _ in range(n - sum(counts.values())):
        open_names = [name for name in names if fractions[name] > 0]
        name = rng.choices(open_names, weights=[fractions[key] for key in open_names])[0]
        counts[name] += 1
        fractions[name] = 0.0
    return counts


def plan_trials(sizes: Mapping[str, int], n: int, order_seed: int, catch_items: Sequence[int] = ()) -> Plan:
    """The participant's plan from their ``order_seed``: ``n`` subfields (:func:`subfield_counts`)
    shuffled, and with catch items one more trial, a random catch item at a random position."""
    rng = random.Random(order_seed)
    counts = subfield_counts(sizes, n, rng)
    subfields = [name for name in sorted(counts) for _ in range(counts[name])]
    rng.shuffle(subfields)
    catch_item = None
    if catch_items:
        catch_item = rng.choice(sorted(catch_items))
        subfields.insert(rng.randrange(len(subfields) + 1), CATCH)
    return Plan(tuple(subfields), catch_item)


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
    """The item for a trial: one among the ``counts`` (eligible item id -> responses + trials on screen)
    with the fewest; of those, one of the ``planned`` subfield if any, else one of a subfield still
    planned ``later`` for this participant, else one of the subfields they have ``seen`` least."""
    fewest = min(counts.values())
    candidates = sorted(item for item, count in counts.items() if count == fewest)
    for wanted in ({planned}, set(later)):
        fitting = [item for item in candidates if subfields[item] in wanted]
        if fitting:
            return rng.choice(fitting)
    least = min(seen.get(subfields[item], 0) for item in candidates)
    return rng.choice([item for item in candidates if seen.get(subfields[item], 0) == least])
