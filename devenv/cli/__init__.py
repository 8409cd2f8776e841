"""The `devenv` command: typer wiring in `app`, one module of verbs per group of commands.

Nothing is imported here, so the pytest plugin can use a verb module without loading typer.
"""
