"""Reading users' text files: a file that is not UTF-8 is named, with how to convert it.

Chinese users often have GBK / GB18030 files (Excel and older Windows tools save them); a bare
UnicodeDecodeError says neither which file nor what to do, so every text read goes through here.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path

from .errors import UserError


def _first_bad_byte(path: Path) -> tuple[int, int, bytes, bool] | None:
    """(offset, line, chunk, chunk_is_whole_rest) of the first byte that is not UTF-8; streamed, so a big file
    costs no memory."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 1
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 24)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as e:
                start = max(0, min(e.start, len(chunk)))
                return offset + start, lines + chunk.count(b"\n", 0, start), chunk, len(chunk) < (1 << 24)
            if not chunk:
                return None
            offset += len(chunk)
            lines += chunk.count(b"\n")


def encoding_error(path: str | os.PathLike) -> UserError | None:
    """None when the file decodes as UTF-8, else a UserError naming the file, where, and the fix."""
    p = Path(path)
    try:
        bad = _first_bad_byte(p)
    except OSError:
        return None
    if bad is None:
        return None
    offset, line, chunk, whole = bad
    where = f"line {line}, byte {offset}"
    fix = f"iconv -f {{enc}} -t UTF-8 '{p}' > '{p.with_suffix('.utf8' + p.suffix)}'"
    try:
        (chunk if whole else chunk[:-4]).decode("gb18030")  # a full chunk may end inside a character
        return UserError(f"{p} is not UTF-8 ({where}); it reads as GBK/GB18030 (common for Chinese text saved by "
                         f"Excel or Windows tools). Save it as UTF-8, e.g.: {fix.format(enc='GB18030')}")
    except UnicodeDecodeError:
        pass
    return UserError(f"{p} is not UTF-8 ({where}). Save it as UTF-8 (in your editor: \"Save with encoding\" → "
                     f"UTF-8), or convert it, e.g.: {fix.format(enc='<its encoding>')}")


def read_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file's contents; any other encoding is a UserError that names the file and the fix."""
    p = Path(path)
    data = p.read_bytes()
    try:
        return data.decode("utf-8-sig")  # a BOM (Notepad) is not an error
    except UnicodeDecodeError:
        raise encoding_error(p) from None


def check_readable(path: str | os.PathLike, what: str = "file", error: type[UserError] = UserError) -> Path:
    """`path` exists and is a readable file; else a UserError that says which of the usual reasons it is."""
    p = Path(path).expanduser()
    try:
        os.stat(p)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise error(f"{what} {p} is a symlink loop (a link that points back to itself); point it at a real file") from None
        if p.is_symlink():
            raise error(f"{what} {p} is a broken symlink (its target {os.readlink(p)} does not exist)") from None
        if e.errno == errno.EACCES:
            raise error(f"{what} {p}: permission denied; make it readable (chmod u+r)") from None
        raise error(f"{what} not found: {p}") from None
    if p.is_dir():
        raise error(f"{what} {p} is a folder; give a file")
    if not os.access(p, os.R_OK):
        raise error(f"{what} {p}: permission denied; make it readable (chmod u+r)")
    return p
