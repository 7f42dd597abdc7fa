"""`python -m hfcli …`: the `hf` command line (the entry torchrun's `-m hfcli` starts)."""

from .cli import main

main()
