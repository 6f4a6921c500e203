"""The task's Python functions, as lm-eval's ``!function utils.NAME`` finds them next to the YAML files.

They live in brainbench (``brainbench.integrations.lm_eval``), so that a copy of this folder keeps using
the installed brainbench's loader and rules.
"""

from brainbench.integrations.lm_eval.documents import load_documents
from brainbench.integrations.lm_eval.metrics import process_results

__all__ = ["load_documents", "process_results"]
