"""Batching, pure: put work of similar length together (little padding) and give results back in the caller's order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def length_order(lengths: Sequence[int]) -> list[int]:
    """Indices sorted by length, shortest first (stable: equal lengths keep their order)."""
    return sorted(range(len(lengths)), key=lambda index: lengths[index])


def restore_order(results: Sequence[Result], order: Sequence[int]) -> list[Result]:
    """``results[k]`` belongs to item ``order[k]``: put each back at its item's place."""
    restored: list[Result] = [None] * len(order)  # type: ignore[list-item]
    for index, result in zip(order, results):
        restored[index] = result
    return restored


def by_size_and_length(groups: Sequence[Sequence[Sequence[int]]]) -> list[list[int]]:
    """Indices of ``groups`` (each a list of token sequences), partitioned by how many sequences a group has
    (a batch holds groups of one size) and sorted within a partition by the longest sequence."""
    partitions: dict[int, list[int]] = {}
    for index, group in enumerate(groups):
        partitions.setdefault(len(group), []).append(index)
    return [
        [indices[k] for k in length_order([max(map(len, groups[i])) for i in indices])]
        for _, indices in sorted(partitions.items())
    ]
