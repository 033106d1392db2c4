"""``python -m softgrad``."""

from softgrad.cli.app import main

main(prog_name="softgrad")
