"""Where and in what precision a model scores: the device, dtype and compile policy, checked before a model loads."""

from __future__ import annotations

from pathlib import Path

from brainbench.errors import BackendError
from brainbench.scoring.embedded import user_cache_dir

DTYPES = ("auto", "float32", "bfloat16", "float16")


def resolve_device(device: str, local_rank: int | None = None) -> str:
    """The torch device to score on, checked here, before any model loads. ``auto``: CUDA where this
    machine has it, then Apple's MPS, else the CPU. Under a launcher (``local_rank`` given) ``auto`` and ``cuda``
    are this process's own GPU, ``cuda:<local_rank>``; ``cuda:N`` stays as given."""
    import torch

    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda" if local_rank is None else f"cuda:{local_rank}"
        return "mps" if has_mps else "cpu"
    kind, _, index = device.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (index and not (kind == "cuda" and index.isdigit())):
        raise BackendError(f"--device {device!r}: use auto, cpu, cuda, cuda:N or mps")
    if kind == "cuda" and not torch.cuda.is_available():
        why = "this PyTorch was built without CUDA" if torch.version.cuda is None else "no CUDA device is visible"
        raise BackendError(f"--device {device}: {why} on this machine; use --device cpu (or auto)")
    if kind == "cuda" and not index and local_rank is not None:
        if local_rank >= torch.cuda.device_count():
            raise BackendError(
                f"--device cuda: this process has local rank {local_rank} (LOCAL_RANK) but this machine has "
                f"{torch.cuda.device_count()} CUDA device(s); start one process per GPU"
            )
        return f"cuda:{local_rank}"
    if kind == "cuda" and index and int(index) >= torch.cuda.device_count():
        raise BackendError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if kind == "mps" and not has_mps:
        raise BackendError(f"--device {device}: Apple's MPS is not available here; use --device cpu (or auto)")
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    if dtype not in DTYPES:
        raise BackendError(f"--dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    if dtype != "auto":
        return dtype
    if device.startswith("cuda"):
        # float16 keeps 3 more mantissa bits than bfloat16: on the embedded model it made the same
        # choices as float32 on all 200 brainbench-human items, bfloat16 on 94% (benchmarks/check_device.py).
        # An overflow shows up as non-finite scores, which are refused with a hint to use bfloat16.
        return "float16"
    return "float32"  # exact on CPU and MPS; opt in to half precision with --dtype


def compile_cache_dir() -> Path:
    """Where torch.compile keeps compiled code between runs (TORCHINDUCTOR_CACHE_DIR overrides it)."""
    return user_cache_dir() / "torchinductor"


COMPILE_CHOICES = ("off", "on", "auto")
AUTO_COMPILE_CASES = 1000  # --compile auto: compile a GPU run of at least this many test cases


def resolve_compile(compile: str | bool, device: str, n_cases: int) -> bool:
    """--compile off|on|auto. ``auto`` compiles only on a GPU and only a long run: on 2 CPU cores the compiled
    decoder measured no faster (benchmarks/bench_scoring.py), and compiling costs minutes the first time."""
    if isinstance(compile, bool):
        return compile
    if compile not in COMPILE_CHOICES:
        raise BackendError(f"--compile {compile!r}: choose {', '.join(COMPILE_CHOICES)}")
    if compile == "auto":
        return device.startswith("cuda") and n_cases >= AUTO_COMPILE_CASES
    return compile == "on"
