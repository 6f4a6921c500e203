"""``python -m brainbench``: the CLI (also what ``accelerate launch -m brainbench run ...`` runs)."""

from brainbench.cli import main

main()
