"""The independent reference every scoring test compares against: the paper's full-sequence loss."""

from __future__ import annotations


def reference_ppl(model, tokenizer, text: str) -> float:
    """exp(model(input_ids, labels=input_ids).loss), tokenised with default special tokens, as the paper."""
    import torch

    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        return float(torch.exp(model(input_ids=ids, labels=ids).loss))
