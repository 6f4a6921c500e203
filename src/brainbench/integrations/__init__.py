"""BrainBench inside other evaluation frameworks, scored the paper's way, with importers that turn their logs
into normal run directories.

``lm_eval``   an lm-evaluation-harness task package (``--include_path``) and ``import_lm_eval_samples``
"""
