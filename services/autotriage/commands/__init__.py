"""The `autotriage` subcommands that are more than wiring: demo, learn, eval."""
