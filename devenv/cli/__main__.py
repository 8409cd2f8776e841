"""`python -m devenv.cli`: the same entry as the `devenv` script."""

from devenv.cli.app import main

main()
