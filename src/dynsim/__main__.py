"""`python -m dynsim` runs the `dynsim` command."""

from dynsim.cli.main import main

raise SystemExit(main())
