"""New test cases: candidate abstracts, alterations written by experts or proposed by a model and
checked, a review queue with provenance, and versioned test sets."""

from brainbench.authoring.edits import check_alteration, combine
from brainbench.authoring.propose import OpenAIChat, TransformersChat, fetch_abstracts, propose_alteration
from brainbench.authoring.queue import ReviewQueue, build_dataset

__all__ = [
    "OpenAIChat",
    "ReviewQueue",
    "TransformersChat",
    "build_dataset",
    "check_alteration",
    "combine",
    "fetch_abstracts",
    "propose_alteration",
]
