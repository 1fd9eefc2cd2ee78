"""Reading a user's text file with one-line errors."""

from __future__ import annotations

from pathlib import Path

from dynsim.core.errors import DynsimError


def read_user_text(path: Path, error: type[DynsimError]) -> str:
    """The UTF-8 text of `path` (a byte-order mark is dropped); problems raise `error`."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, not a file") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from None
