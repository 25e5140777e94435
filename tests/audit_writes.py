"""Runs a script while recording every file it opens for writing and every rename.

Usage: python audit_writes.py LOG.json SCRIPT [ARGS...]. Python's audit hooks see each
open() and os.replace()/os.rename() the script (or any library it calls) makes.
"""

import atexit
import json
import os
import runpy
import sys

log_path = sys.argv[1]
events = []


def record(event, args):
    if event == "open" and isinstance(args[0], (str, bytes)):
        path, mode, flags = args
        writes = any(letter in (mode or "") for letter in "wax+") or bool(
            (flags or 0) & (os.O_WRONLY | os.O_RDWR)
        )
        if writes:
            events.append(["write", os.path.abspath(os.fsdecode(path))])
    elif event == "os.rename":
        events.append(
            ["rename", os.path.abspath(os.fsdecode(args[0])), os.path.abspath(os.fsdecode(args[1]))]
        )


def save_log():
    with open(log_path, "w") as log_file:
        json.dump(events, log_file)


sys.addaudithook(record)
atexit.register(save_log)
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
