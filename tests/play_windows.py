"""Runs a script as far as Linux can honestly play Windows.

    python play_windows.py SCRIPT [ARGS...]

- No fcntl: a stand-in msvcrt locks bytes as Windows' does (mandatory, per process, gone when
  the process ends), raising OSError (EACCES) when another process holds them.
- No SIGHUP; a SIGBREAK, which Windows sends when its console window is closed (here it is
  SIGUSR1, so that a test can send it).
- The files named in the environment variable HELD_OPEN (os.pathsep between them) are held
  open by another program, as Excel holds a CSV file: Windows then neither replaces nor
  deletes them, with PermissionError.
"""

import errno
import fcntl
import os
import runpy
import signal
import subprocess  # noqa: F401 (it takes Windows' ways if msvcrt imports: decided first)
import sys
import types

msvcrt = types.ModuleType("msvcrt")
msvcrt.LK_NBLCK = 2


def locking(fd, mode, nbytes):
    assert mode == msvcrt.LK_NBLCK, mode
    here = os.lseek(fd, 0, os.SEEK_CUR)  # Windows locks from the file's position
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, nbytes, here)
    except OSError:
        raise PermissionError(errno.EACCES, "Permission denied") from None


msvcrt.locking = locking
sys.modules["msvcrt"] = msvcrt
sys.modules["fcntl"] = None  # import fcntl now fails, as on Windows
del signal.SIGHUP
signal.SIGBREAK = signal.SIGUSR1

HELD = {os.path.abspath(path) for path in os.environ.get("HELD_OPEN", "").split(os.pathsep) if path}


def refusing_held_files(function):
    def call(*args, **options):
        paths = {os.path.abspath(os.fsdecode(arg)) for arg in args[:2] if isinstance(arg, str)}
        if paths & HELD:
            raise PermissionError(errno.EACCES, "used by another process", sorted(paths & HELD)[0])
        return function(*args, **options)

    return call


for name in ("replace", "rename", "remove", "unlink"):
    setattr(os, name, refusing_held_files(getattr(os, name)))

sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
