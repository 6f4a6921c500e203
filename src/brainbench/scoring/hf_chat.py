"""The choice protocol on a local transformers chat model: its chat template, a short greedy answer, and the
answer token's probabilities read from the model's own next-token distribution (or ``samples`` answers)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from brainbench.errors import BackendError
from brainbench.scoring.choice import Answer, Generation, ask

TOP_ALTERNATIVES = 20


class HFChooser:
    """Asks the choice protocol's questions to a causal LM through its tokenizer's chat template."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str,
        identity: dict[str, object],
        info: dict[str, object],
        samples: int | None = None,
        retries: int = 2,
        seed: int = 0,
        max_new_tokens: int = 16,
    ) -> None:
        if not getattr(tokenizer, "chat_template", None):
            raise BackendError(f"{name} has no chat template: the choice protocol needs a chat (instruct) model")
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.device = next(model.parameters()).device
        self._identity, self.info = identity, info
        self.samples, self.retries, self.seed, self.max_new_tokens = samples, retries, seed, max_new_tokens
        self.cases_per_call = 1

    @classmethod
    def load(
        cls,
        model: str | Path | None = None,
        *,
        gguf_file: str | None = None,
        adapter: str | Path | None = None,
        revision: str | None = None,
        dtype: str = "auto",
        device: str = "auto",
        samples: int | None = None,
        retries: int = 2,
        seed: int = 0,
        identity: Mapping[str, Any] | None = None,
        offline: bool = False,
    ) -> HFChooser:
        """Load a model for the choice protocol (the same models, options and identity as the transformers scorer)."""
        from brainbench.scoring.hf import HFScorer

        scorer = HFScorer.load(
            model,
            gguf_file=gguf_file,
            adapter=adapter,
            revision=revision,
            dtype=dtype,
            device=device,
            identity=identity,
            offline=offline,
        )
        return cls(
            scorer.model,
            scorer.tokenizer,
            name=scorer.name,
            identity=scorer.identity(),
            info=scorer.describe(),
            samples=samples,
            retries=retries,
            seed=seed,
        )

    def describe(self) -> dict[str, object]:
        return {
            **self.info,
            "protocol": "choice",
            "samples": self.samples,
            "retries": self.retries,
            "max_new_tokens": self.max_new_tokens,
        }

    def identity(self) -> dict[str, object]:
        return dict(self._identity)

    def fingerprint(self) -> dict[str, object]:
        return {
            **self._identity,
            "protocol": "choice",
            "samples": self.samples,
            "retries": self.retries,
            "seed": self.seed,
            "max_new_tokens": self.max_new_tokens,
        }

    def generate(self, chat: Sequence[Mapping[str, str]], *, temperature: float, seed: int) -> Generation:
        import torch

        inputs = self.tokenizer.apply_chat_template(
            list(chat), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        inputs = {key: value.to(self.device) for key, value in inputs.items()}
        torch.manual_seed(seed)
        sampling = (
            {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
            if temperature > 0
            else {"do_sample": False}
        )
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                output_logits=True,
                return_dict_in_generate=True,
                pad_token_id=self.tokenizer.eos_token_id,
                **sampling,
            )
        generated = out.sequences[0, inputs["input_ids"].shape[1] :].tolist()
        text = self.tokenizer.decode(generated, skip_special_tokens=True)
        tokens = tuple(self.tokenizer.decode([token]) for token in generated)
        steps = []
        for logits in out.logits[: len(generated)]:
            logprobs = torch.log_softmax(
                logits[0].float(), dim=-1
            )  # the model's own distribution, before any sampling rule
            top = torch.topk(logprobs, TOP_ALTERNATIVES)
            alternatives: dict[str, float] = {}
            for token_id, value in zip(top.indices.tolist(), top.values.tolist()):
                piece = self.tokenizer.decode([token_id])
                alternatives[piece] = max(value, alternatives.get(piece, float("-inf")))
            steps.append(alternatives)
        return Generation(text, tokens, tuple(steps))

    def answer(self, chats: Sequence[Sequence[Mapping[str, str]]], n_letters: Sequence[int]) -> list[Answer]:
        return [
            ask(self.generate, chat, n, samples=self.samples, retries=self.retries, seed=self.seed)
            for chat, n in zip(chats, n_letters)
        ]
