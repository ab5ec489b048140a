"""`python -m kinn` is the `kinn` command."""

from kinn.cli.main import main

main()
