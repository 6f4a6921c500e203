"""The options several commands share, declared once (as Inspect's ``eval_options``): a command takes one with
``name: ModelOption = None``. Their names are the fields of ``RunConfig`` and the backends' option types."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Hugging Face id, local folder or .gguf file; with a server backend, the served model's name. Default: "
        "the embedded SmolLM2-135M-Instruct.",
    ),
]
BackendOption = Annotated[
    str,
    typer.Option(
        "--backend",
        "-b",
        help="transformers, llama-cpp (GGUF in-process), openai-completions (a vLLM / llama-cpp-python server); with "
        "--protocol choice: transformers (a local chat model) or openai-chat (any OpenAI-compatible chat endpoint).",
    ),
]
BaseUrlOption = Annotated[
    str | None, typer.Option("--base-url", help="A server backend's URL, e.g. http://127.0.0.1:8000/v1.")
]
ApiKeyOption = Annotated[
    str | None, typer.Option("--api-key", envvar="OPENAI_API_KEY", help="A server's API key (or OPENAI_API_KEY).")
]
GgufFileOption = Annotated[str | None, typer.Option("--gguf-file", help="GGUF file inside --model's folder or repo.")]
AdapterOption = Annotated[str | None, typer.Option("--adapter", help="A peft (LoRA) adapter folder or id.")]
RevisionOption = Annotated[str | None, typer.Option("--revision", help="Model revision (branch, tag or commit).")]
DtypeOption = Annotated[
    str,
    typer.Option("--dtype", help="auto, float32, bfloat16 or float16 (auto: float32 on CPU, float16 on CUDA)."),
]
DeviceOption = Annotated[
    str,
    typer.Option("--device", help="auto, cpu, cuda, cuda:1, mps (auto: CUDA where there is one, else MPS, else CPU)."),
]
TemplateOption = Annotated[
    str | None,
    typer.Option(
        "--template",
        help="One of the paper's prompt templates by name (e.g. gpt2, mistralai--Mistral-7B-v0.1), or none for the "
        "bare abstract. Default: the paper's file for the model (or adapter), else its generic gpt2 template.",
    ),
]
TemplateFileOption = Annotated[
    Path | None, typer.Option("--template-file", help="A template file with a <choice abstract> slot.")
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Local mirror of the dataset and study files (or BRAINBENCH_DATA_DIR)."),
]
OfflineOption = Annotated[
    bool | None, typer.Option("--offline/--online", help="Never download (or BRAINBENCH_OFFLINE=1).")
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store", help="Results store: SQLite file or database URL (or BRAINBENCH_STORE; default: the user's store)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
