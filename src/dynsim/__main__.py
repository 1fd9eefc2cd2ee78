"""`python -m dynsim` runs the `dynsim` command.

`python -m` puts the current folder first on `sys.path`. It is taken off here, so the
modules imported from now on (scipy, platformdirs, tomli_w, ...) never come from a
`scipy.py` lying in the folder a user runs dynsim from. What `import dynsim` itself needs
(numpy, pluggy) is imported before this runs: `python -P -m dynsim` (or the `dynsim`
command, which never searches the current folder) avoids that too.
"""

import os
import sys

if not sys.flags.safe_path and sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from dynsim.cli.main import main

raise SystemExit(main())
