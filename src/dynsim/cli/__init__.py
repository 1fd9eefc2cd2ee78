"""The `dynsim` command."""
