"""The command list of ``hwsr --help`` is the registry the lazy parser loads from: every
subcommand a module registers must be listed under that module, or ``hwsr NAME`` is refused
as an invalid choice."""

from __future__ import annotations

import argparse
import importlib

from hwsr.cli import COMMANDS


def test_every_registered_command_is_listed_under_its_module() -> None:
    for module in sorted({m for m in COMMANDS.values() if m is not None}):
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(sub)
        listed = {name for name, m in COMMANDS.items() if m == module}
        assert set(sub.choices) == listed, module
