"""Put a new directory tree in place of an old one in one atomic step, and clean up after.

renameat2(RENAME_EXCHANGE) swaps two paths atomically: a reader (nginx) sees the old
tree or the new one, never neither. Where the kernel or filesystem lacks it, two
renames (old aside, new in) leave a moment without the directory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

# renameat2(2) flag: exchange two paths atomically (Linux 3.15+, glibc 2.28+).
RENAME_EXCHANGE = 2
AT_FDCWD = -100
TEMP_INFIX = ".build-"


def temporary(target: Path) -> Path:
    """A new empty directory next to target (same filesystem), named after it and this process."""
    return Path(tempfile.mkdtemp(prefix=f".{target.name}{TEMP_INFIX}{os.getpid()}-",
                                 dir=target.parent))


def remove_stale(target: Path) -> None:
    """Remove temporary trees that killed builds (kill -9, power loss) left next to target."""
    pattern = re.compile(re.escape(f".{target.name}{TEMP_INFIX}") + r"(\d+)-")
    for entry in target.parent.iterdir():
        match = pattern.match(entry.name)
        if match and entry.is_dir() and not _alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Whether a process id is running (then its temporary tree is not ours to remove)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories; False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # an old kernel or a filesystem without it: two renames instead
    raise OSError(code, os.strerror(code), str(b))


def swap(temp: Path, target: Path) -> None:
    """Put the new tree at target; the old one ends up at temp and is deleted."""
    if not target.exists():
        temp.rename(target)
        return
    if not exchange(temp, target):
        # Two renames: for a moment between them the target does not exist.
        aside = temp.with_name(temp.name + "-old")
        target.rename(aside)
        try:
            temp.rename(target)
        except BaseException:
            aside.rename(target)  # put the old site back before giving up
            raise
        aside.rename(temp)
    shutil.rmtree(temp, ignore_errors=True)
