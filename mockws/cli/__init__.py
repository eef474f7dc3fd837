"""What a user types: the ``mockws`` command.

- :mod:`~mockws.cli.commands`: the click group `main` and its commands (not
  `cli/main.py`: that module name would be shadowed by the `main` it exports).
- :mod:`~mockws.cli.token`: what ``mockws token`` needs (loaded for it only).
- :mod:`~mockws.cli.init`: the starter files of ``mockws init`` (loaded for it only).
- :mod:`~mockws.cli.loops`: the event loop ``serve`` runs on.
"""

from .commands import main

__all__ = ["main"]
