"""`python -m llmusage` runs the command line."""

from llmusage.cli import main

main()
