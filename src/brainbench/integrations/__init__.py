"""BrainBench inside other evaluation frameworks, scored the paper's way, with importers that turn their logs
into normal run directories.

``lm_eval``        an lm-evaluation-harness task package (``--include_path``) and ``import_lm_eval_samples``
``inspect_task``   Inspect tasks of the choice protocol (``inspect eval brainbench/human``; imports inspect_ai)
``inspect_log``    ``import_inspect_log``: Inspect's logs of those tasks -> run directories
"""
