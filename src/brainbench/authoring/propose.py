"""Candidate abstracts from PubMed, and alterations proposed by an instruction model.

Chat models: any OpenAI-compatible ``/chat/completions`` endpoint (vLLM, llama-cpp-python's server,
hosted APIs) or a local transformers chat model (the embedded SmolLM2-135M-Instruct by default).
The prompt follows the paper's GPT-4 procedure: change the results, keep background and methods
word for word, stay coherent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from brainbench.errors import BackendError
from brainbench.http import RetryingClient
from brainbench.pubmed import EUtilsClient, normalize_doi, parse_pubmed

PROMPT = """Below is the abstract of a neuroscience paper. Rewrite it so that its RESULTS are different: for
example the opposite direction of an effect, another brain region or cell type, or a different
outcome. Keep every sentence of background and methods exactly as it is, change as few words as
needed, keep the text coherent and plausible, and do not merely add "not". Reply with the whole
rewritten abstract and nothing else.

Abstract:
{abstract}"""


def fetch_abstracts(
    client: EUtilsClient, query: str, since: str, until: str | None = None, limit: int = 100, subfield: str = ""
) -> list[dict[str, Any]]:
    """Recent PubMed abstracts matching ``query`` published from ``since`` (YYYY/MM/DD) as candidate items."""
    search = client.esearch("pubmed", f"({query}) AND hasabstract", mindate=since, maxdate=until or "3000")
    candidates = []
    for start in range(0, min(search.count, limit), 200):
        for document in parse_pubmed(client.efetch("pubmed", search, start, min(200, limit - start))):
            title, _, abstract = document.text.partition("\n")
            candidates.append(
                {
                    "doi": normalize_doi(document.doi),
                    "pmid": document.pmid,
                    "journal": document.journal,
                    "year": document.year,
                    "subfield": subfield,
                    "text": " ".join(abstract.split("\n")) or title,
                }
            )
    return candidates


class Chat(Protocol):
    def __call__(self, messages: Sequence[dict[str, str]]) -> str: ...

    def describe(self) -> dict[str, Any]: ...


class OpenAIChat:
    """An OpenAI-compatible chat endpoint."""

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key: str | None = None,
        temperature: float = 0.7,
        max_tokens: int = 1024,
        timeout: float = 300.0,
        max_retries: int = 4,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = RetryingClient(
            self.base_url, headers=headers, timeout=timeout, max_retries=max_retries, error=BackendError
        )
        self.model = model or self._only_model()
        self.temperature, self.max_tokens, self.max_retries = temperature, max_tokens, max_retries

    def _only_model(self) -> str:
        models = [entry["id"] for entry in self.http.json("GET", "/models").get("data", [])]
        if len(models) != 1:
            raise BackendError(f"{self.base_url} serves {len(models)} models; name one with --model")
        return models[0]

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "openai-chat",
            "model": self.model,
            "base_url": self.base_url,
            "temperature": self.temperature,
        }

    def __call__(self, messages: Sequence[dict[str, str]]) -> str:
        body = {
            "model": self.model,
            "messages": list(messages),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        answer = self.http.json("POST", "/chat/completions", json=body)
        try:
            return answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as error:
            raise BackendError(
                f"{self.base_url}/chat/completions: unexpected answer ({error}): {str(answer)[:300]}"
            ) from error


class TransformersChat:
    """A local chat model through transformers (default: the embedded SmolLM2-135M-Instruct)."""

    def __init__(self, model: str | None = None, *, max_new_tokens: int = 512, temperature: float = 0.0) -> None:
        from brainbench.scoring.hf import load_causal_lm

        self.model, self.tokenizer, self.name, _ = load_causal_lm(model)
        self.model.eval()
        self.max_new_tokens, self.temperature = max_new_tokens, temperature

    def describe(self) -> dict[str, Any]:
        return {"backend": "transformers-chat", "model": self.name, "temperature": self.temperature}

    def __call__(self, messages: Sequence[dict[str, str]]) -> str:
        import torch

        inputs = self.tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                do_sample=self.temperature > 0,
                temperature=self.temperature or None,
                pad_token_id=self.tokenizer.eos_token_id,
            )
        return self.tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def propose_alteration(chat: Chat, abstract: str, prompt: str = PROMPT) -> str:
    """The model's altered version of ``abstract`` (fences, quotes and an 'Abstract:' label removed)."""
    reply = chat([{"role": "user", "content": prompt.format(abstract=abstract)}]).strip()
    reply = re.sub(r"^```\w*\s*|\s*```$", "", reply).strip()
    reply = re.sub(r"^(rewritten |altered )?abstract:\s*", "", reply, flags=re.IGNORECASE).strip()
    return reply.strip('"').strip()
