"""Environment variables -> Settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from brainbench.settings import load_settings


def test_environment_and_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BRAINBENCH_DATA_DIR", str(tmp_path / "mirror"))
    monkeypatch.delenv("BRAINBENCH_OFFLINE", raising=False)
    settings = load_settings()
    assert settings.data_dir == tmp_path / "mirror"
    assert settings.offline is False  # HF_HUB_OFFLINE (set by the test fixture) concerns models, not datasets
    assert load_settings(data_dir=tmp_path / "flag").data_dir == tmp_path / "flag"
    monkeypatch.setenv("BRAINBENCH_OFFLINE", "1")
    assert load_settings().offline is True
    assert load_settings(offline=False).offline is False
    monkeypatch.delenv("BRAINBENCH_DATA_DIR")
    assert load_settings().data_dir is None
