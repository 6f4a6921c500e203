"""The independent reference every scoring test compares against: the paper's full-sequence loss."""

from __future__ import annotations


def reference_ppl(model, tokenizer, text: str) -> float:
    """exp(model(input_ids, labels=input_ids).loss), tokenised with default special tokens, as the paper."""
    import torch

    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return float(torch.exp(model(input_ids=ids, labels=ids).loss))


def reference_self_certainty(model, tokenizer, text: str) -> float:
    """Kang et al.'s self-certainty, from the full log-softmax: the mean over the scored positions (all but the
    last) of KL(U || p) = -ln V - mean over the vocabulary of log p."""
    import math

    import torch

    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        log_p = torch.log_softmax(model(input_ids=ids).logits[0, :-1].double(), dim=-1)
    vocabulary = log_p.shape[-1]
    return float((-math.log(vocabulary) - log_p.mean(-1)).mean())
