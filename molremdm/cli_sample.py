"""Command-line parsing for sample and evaluate."""

HANDLERS: dict = {}


def add_commands(commands, formatter) -> None:
    pass
