"""The ``patlink`` command line (typer + rich). One module per command group; heavy imports stay inside commands."""
