"""The ``nas`` command line: the top of the house. It imports the library; nothing imports it."""

from evonas.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
