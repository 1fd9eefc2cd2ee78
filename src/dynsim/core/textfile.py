"""Reading a user's text file with one-line errors, never forever and never too much.

The file is read in pieces, so a "file" that never ends (a link to /dev/zero, a FIFO fed by
`yes`) or is absurdly large is refused after `limit` bytes, and binary data (a NUL byte,
bytes that are not UTF-8) at its first piece, instead of being read into memory whole.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from dynsim.core.budget import format_bytes
from dynsim.core.errors import DynsimError

NUL = b"\0"
PIECE = 1 << 20
"""Bytes read at a time."""


def read_user_text(path: Path, error: type[DynsimError], limit: int = 1 << 30) -> str:
    """The UTF-8 text of `path` (a byte-order mark is dropped); problems raise `error`.

    More than `limit` bytes, a NUL byte or invalid UTF-8 are refused.
    """
    try:
        with open(path, "rb") as handle:
            return _read_text(path, handle, error, limit)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from None


def _read_text(path: Path, handle: object, error: type[DynsimError], limit: int) -> str:
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    parts: list[str] = []
    offset = 0
    while True:
        piece = handle.read(PIECE)  # type: ignore[attr-defined]
        if len(piece) + offset > limit:
            raise error(f"{path}: larger than {format_bytes(limit)}, the most dynsim reads "
                        "(is it the right file? split it into smaller files)")
        try:
            parts.append(decoder.decode(piece, final=not piece))
        except UnicodeDecodeError as exc:
            raise error(f"{path}: not UTF-8 text ({exc.reason} at byte "
                        f"{offset + exc.start})") from None
        if NUL in piece:
            raise error(f"{path}: not UTF-8 text (a NUL byte at byte "
                        f"{offset + piece.index(NUL)}: a binary file?)")
        if not piece:
            return "".join(parts)
        offset += len(piece)
