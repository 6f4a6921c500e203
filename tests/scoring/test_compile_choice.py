"""--compile off|on|auto: auto compiles only a long GPU run (on CPU the compiled decoder measured no faster)."""

from __future__ import annotations

import pytest

from brainbench.errors import BackendError
from brainbench.scoring.devices import AUTO_COMPILE_CASES, resolve_compile


def test_auto_compiles_only_long_gpu_runs() -> None:
    assert resolve_compile("auto", "cuda:0", AUTO_COMPILE_CASES) is True
    assert resolve_compile("auto", "cuda", AUTO_COMPILE_CASES - 1) is False
    assert resolve_compile("auto", "cpu", 10 * AUTO_COMPILE_CASES) is False
    assert resolve_compile("on", "cpu", 1) is True and resolve_compile("off", "cuda", 10**6) is False
    assert resolve_compile(True, "cpu", 1) is True  # a sweep file's compile: true
    with pytest.raises(BackendError, match="choose off, on, auto"):
        resolve_compile("yes", "cpu", 1)
