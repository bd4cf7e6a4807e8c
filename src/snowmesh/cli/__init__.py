"""The ``mesh`` command line (Typer + Rich). Thin: parse, call the core, print."""
