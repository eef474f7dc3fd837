"""``python -m mockws`` runs the command line."""

from .cli import main

main()
