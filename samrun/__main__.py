"""`python -m samrun` runs the command line."""

from samrun.cli import main

main()
