"""Which items a new participant sees, and in what order (pure functions of counts and seeds).

Choosing and ordering are separate on purpose: the balancing picks items subfield by subfield, so the
order in which it picks them follows the subfields (the largest first). Numbering trials in that order
would confound trial position with subfield; the chosen items are therefore shuffled, with a seed
recorded per participant, before positions are numbered.
"""

from __future__ import annotations

import random
from collections.abc import Mapping


def balanced_items(subfields: Mapping[int, str], counts: Mapping[int, int], n: int, rng: random.Random) -> list[int]:
    """``n`` distinct item ids, always among the least assigned so far (so every item gets a similar
    number of responses), and among those from the subfields this participant has seen least (so they mix).

    ``subfields``: item id -> subfield; ``counts``: item id -> times assigned so far (missing = 0).
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


def order_trials(item_ids: list[int], order_seed: int) -> list[tuple[int, bool]]:
    """The trials in the order shown: ``(item_id, altered_first)`` per position.

    ``random.Random(order_seed)`` shuffles the sorted item ids, then draws for each position whether the
    altered abstract is shown as A; so a participant's trials are reproducible from their items and seed.
    """
    rng = random.Random(order_seed)
    ordered = sorted(item_ids)
    rng.shuffle(ordered)
    return [(item_id, rng.random() < 0.5) for item_id in ordered]
