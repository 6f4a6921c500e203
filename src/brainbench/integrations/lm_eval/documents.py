"""The documents of the lm-evaluation-harness task: one per test case, with the requests that make lm-eval
compute the paper's perplexity.

The paper scores every token of the templated text after the first, given the first. lm-eval's
``loglikelihood`` request scores a continuation given a context, so each version becomes
``(context, continuation)`` = (its first token, the rest of the text):

- a tokenizer that adds nothing in front (GPT-2, SmolLM2, Qwen): the context is the text of the first
  token, e.g. ``"You"``; lm-eval tokenises context + continuation as a whole and scores the tokens
  after the context's, which are the paper's tokens exactly;
- a tokenizer that puts a BOS in front (Llama, Mistral, Gemma): the context is empty, and lm-eval
  conditions on its ``prefix_token_id``, the BOS, and scores every token of the text.

Both are checked per text with the model's own tokenizer (loaded from lm-eval's model arguments), which
also gives the number of scored tokens that turns a summed log-likelihood into a PPL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brainbench.data import Dataset, TestCase, load_dataset
from brainbench.errors import BackendError, InputError
from brainbench.runs.spec import presentation_orders
from brainbench.scoring import Template, resolve_template
from brainbench.scoring.hf import load_tokenizer
from brainbench.settings import load_settings

logger = logging.getLogger(__name__)

SEED = 42  # the paper's A/B order
MODEL_KEYS = (
    "pretrained",
    "model",
)  # where lm-eval's model arguments name the model: pretrained= (hf, vllm), model= (API models)


@dataclass(frozen=True, slots=True)
class Request:
    """One version as lm-eval's loglikelihood request, and how many tokens lm-eval scores of it."""

    context: str
    continuation: str
    n_tokens: int


def split_first_token(text: str, tokenizer: Any) -> Request:
    """The request that scores every token of ``text`` after the first (tokenised with the tokenizer's
    default special tokens, as the paper did), given the first."""
    ids = tokenizer(text)["input_ids"]
    plain = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) < 2:
        raise BackendError(f"{text[:40]!r}...: {len(ids)} token(s); the paper's PPL needs at least 2")
    if ids == plain:
        context = first_token_text(text, tokenizer)
        if tokenizer(context)["input_ids"] != ids[:1] or context != context.rstrip():
            raise BackendError(
                f"the first token of {text[:40]!r}... is not a whole string that tokenises alone "
                "(part of a character?), so lm-eval cannot take it as the context; choose a template"
            )
        return Request(context, text[len(context) :], len(ids) - 1)
    if ids[1:] == plain and ids[0] == tokenizer.bos_token_id:
        # lm-eval conditions an empty context on the BOS (its prefix_token_id) and scores the whole text;
        # a text that starts with a literal BOS itself (the paper's Llama-2 and Mistral templates open
        # with "<s>") is scored from its second token: lm-eval never puts a second BOS in front.
        if plain[0] == tokenizer.bos_token_id:
            return Request("", text, len(plain) - 1)
        return Request("", text, len(ids) - 1)
    raise BackendError(
        "the tokenizer adds special tokens other than one BOS in front; lm-eval's requests cannot "
        "reproduce the paper's tokens for this model"
    )


def first_token_text(text: str, tokenizer: Any) -> str:
    """The characters of ``text`` that make up its first token."""
    if getattr(tokenizer, "is_fast", False):
        end = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"][0][1]
        return text[:end]
    decoded = tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"][:1])
    if not text.startswith(decoded):
        raise BackendError(f"the first token of {text[:40]!r}... decodes to {decoded!r}, not to the start of the text")
    return decoded


def case_document(
    case: TestCase, shown: Sequence[int], template: Template, tokenizer: Any, dataset: Dataset
) -> dict[str, Any]:
    """A test case as a document: its versions' requests in the order shown (A, B, ...), and what the
    importer needs to rebuild brainbench's record (the per-position lists follow the order shown)."""
    texts = [template.apply(case.options[version]) for version in shown]
    try:
        requests = [split_first_token(text, tokenizer) for text in texts]
    except BackendError as error:
        raise InputError(dataset.path, case.line, f"item {case.item_id}: {error}") from error
    contexts = {request.context for request in requests}
    if len(contexts) > 1:  # lm-eval's multiple-choice requests share one context
        raise InputError(
            dataset.path,
            case.line,
            f"the versions start with different tokens {sorted(contexts)}; the lm-eval task needs a common first token",
        )
    return {
        "item_id": case.item_id,
        "doi": case.doi,
        "subfield": case.subfield,
        "source": case.source,
        "shown": list(shown),
        "label": list(shown).index(0),
        "context": requests[0].context,
        "continuations": [request.continuation for request in requests],
        "n_tokens": [request.n_tokens for request in requests],
        "n_bytes": [len(text.encode("utf-8")) for text in texts],
        "dataset": dataset.name,
        "dataset_sha256": dataset.sha256,
        "texts": dataset.texts,
        "template": template.name,
        "template_sha256": template.sha256,
        "seed": SEED,
    }


def model_id(metadata: Mapping[str, Any]) -> str | None:
    """The model's id among lm-eval's model arguments (what picks the paper's template)."""
    return next((str(metadata[key]) for key in MODEL_KEYS if metadata.get(key)), None)


def task_tokenizer(metadata: Mapping[str, Any]) -> Any:
    """The model's tokenizer, found from lm-eval's model arguments as its Hugging Face model finds it."""
    if metadata.get("tokenizer"):
        return load_tokenizer(str(metadata["tokenizer"]), revision=metadata.get("revision"))
    model = model_id(metadata)
    if model is None:
        raise BackendError(
            "the brainbench tasks need the model's tokenizer: pass pretrained=... (or tokenizer=...) in --model_args"
        )
    return load_tokenizer(model, gguf_file=metadata.get("gguf_file"), revision=metadata.get("revision"))


def load_documents(brainbench_dataset: str, **metadata: Any) -> dict[str, Any]:
    """The task's ``custom_dataset``: {"test": every test case of ``brainbench_dataset`` as a document}.

    lm-eval calls it with its metadata: the model arguments (``pretrained``, ``gguf_file``, ``tokenizer``,
    ``revision``, ...) and ``--metadata`` (``template``, ``template_file``, ``texts``, ``data_dir``).
    The dataset comes from brainbench's loader (``data_dir`` or ``BRAINBENCH_DATA_DIR``, then the cache,
    then a download checked by sha256); the template is the paper's file for the model, else the generic one.
    """
    import datasets

    # lm-eval calls this as an entry point, so, like the CLI, it reads the environment's settings.
    settings = load_settings(data_dir=Path(metadata["data_dir"]) if metadata.get("data_dir") else None)
    dataset = load_dataset(
        brainbench_dataset,
        data_dir=settings.data_dir,
        cache_dir=settings.cache_dir,
        offline=settings.offline,
        texts=metadata.get("texts") or "released",
    )
    template_file = metadata.get("template_file")
    template = resolve_template(
        metadata.get("template"),
        Path(template_file) if template_file else None,
        model_id(metadata),
        data_dir=settings.data_dir,
        cache_dir=settings.cache_dir,
        offline=settings.offline,
    )
    logger.info("%s: template %s (chosen by %s)", dataset.name, template.name, template.chosen_by)
    tokenizer = task_tokenizer(metadata)
    if tokenizer.bos_token_id is not None and tokenizer(template.text)["input_ids"][:2] == [tokenizer.bos_token_id] * 2:
        logger.warning(
            "template %s starts with the BOS token %s: lm-eval scores it from the token after it, one token fewer than "
            "the paper (see the task's README)",
            template.name,
            tokenizer.bos_token,
        )
    orders = presentation_orders(dataset.cases, SEED)
    documents = [case_document(case, orders[case.item_id], template, tokenizer, dataset) for case in dataset.cases]
    return {"test": datasets.Dataset.from_list(documents)}
