"""BrainBench as an lm-evaluation-harness task, scored the paper's way.

``task/`` is the task package lm-eval loads with ``--include_path`` (``brainbench_human``, ``brainbench_gpt4``
and the ``brainbench`` group; its README says how it scores); ``write_task_package`` copies it elsewhere.
``documents`` builds its documents, ``metrics`` its ``process_results``, and ``samples`` turns lm-eval's
``--log_samples`` output into a brainbench run directory.
"""

from __future__ import annotations

import shutil
from pathlib import Path

TASK_DIR = Path(__file__).parent / "task"


def write_task_package(out_dir: Path) -> list[Path]:
    """Copy the task package into ``out_dir`` (created if missing); return the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(TASK_DIR.iterdir()):
        if source.is_file() and source.suffix != ".pyc":
            written.append(Path(shutil.copy2(source, out_dir / source.name)))
    return written
