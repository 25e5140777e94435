"""Hostile or broken data files are refused with one line, quickly, in bounded memory.

Every case is built here from the tiny dataset, as the official pickle format allows, and
given to the tutorial's reader of a local copy under a guard: its address space is capped
(RLIMIT_AS) and a watchdog kills it when it runs too long or its resident memory grows past
what any refusal needs, so that a bomb cannot take the machine down with it. What is
required of each refusal: exit status 1 (never a signal), a last stderr line "error: ..."
naming the offending file, no traceback, at most 400 MB peak resident memory (measured
from /proc while it runs) and a few seconds beyond the reader's own startup.

The reader runs alone, without TensorFlow: load_local_copy.py takes its cells from the
tutorial and calls it as the tutorial's load cell does, in a process of ~65 MB that starts
in about a second. Three cases also run the whole tutorial, to show that the command line
gets the same answers: the dtype-flags attack, a stray archive member (a short training)
and a named pipe given as --data-dir. About a minute in all on two cores.
"""

import io
import os
import pickle
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import threading
import time
import zlib
from dataclasses import dataclass

import numpy as np
import pytest
from numpy._core.multiarray import _reconstruct

from cifar_files import Python2Pickler, batch_record, synthetic_images
from conftest import SCRIPT

READER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "load_local_copy.py")


@dataclass(frozen=True)
class Guard:
    """The limits a run is held to: the watchdog's, then those its result must meet."""

    watchdog_resident: int  # bytes: the watchdog kills it past this much resident memory
    timeout: float  # seconds, startup included: the watchdog kills it past this
    peak_resident: int  # bytes: the most a refusal may use
    beyond_startup: float  # seconds a refusal may take beyond a run that fails at once


# The reader alone: numpy, jupytext and the reader's cells peak at ~65 MB resident, a
# refusal after reading a 40 MB batch file at ~100 MB. The watchdog stops a run at 512 MiB,
# past the 400 MB any refusal may use, so it failed anyway.
READER_GUARD = Guard(
    watchdog_resident=2**29, timeout=30, peak_resident=400_000_000, beyond_startup=5
)
# The whole tutorial. Importing TensorFlow takes 1.7 GB of address space (700 MB resident);
# a refusal may use 1.5 GB, and the watchdog stops a run at 2 GiB. Its startup is not timed
# here (that would cost one more run): the reader's runs time every attack.
TUTORIAL_GUARD = Guard(
    watchdog_resident=2 * 2**30, timeout=60, peak_resident=1_500_000_000, beyond_startup=60
)
# The address space cap, for both. A whole tiny training run peaked at 3.1 GB of address
# space on a 2-core machine (it segfaults under 2 GiB, passes under 3 GiB); 8 GiB leaves
# room for machines with more cores, hence more thread stacks and malloc arenas. The cap
# alone would still let a bomb fill 8 GiB: the watchdog stops it long before.
ADDRESS_SPACE_LIMIT = 8 * 2**30
MEMBER_LIMIT = 40 * 2**20  # an official batch file is 31 MB; more than 40 MB is refused


@dataclass(repr=False)  # its describe() says it all, and readably
class GuardedRun:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_resident: int  # bytes
    killed_for: str  # "" unless the watchdog killed it: "the timeout" or "memory"

    def describe(self):
        return (
            f"exit {self.returncode} after {self.seconds:.1f} s, peak resident memory "
            f"{self.peak_resident / 2**20:.0f} MiB"
            + (f", killed by the watchdog for {self.killed_for}" if self.killed_for else "")
            + f"\n--- stdout ---\n{self.stdout[-3000:]}\n--- stderr ---\n{self.stderr[-3000:]}"
        )


def resident_memory(pid, field="VmRSS"):
    """Resident memory now (VmRSS), or its peak since the program started (VmHWM).

    The peak is read here rather than from wait4's ru_maxrss, which on Linux also counts
    the memory of the test process that forked the program."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0  # a zombie has no such line


def run_guarded(command, guard, log_dir, timeout=None):
    """Run a Python program under the guard; measure its time and its own peak resident memory."""
    timeout = timeout or guard.timeout

    def limit_address_space():
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))

    stdout_path, stderr_path = log_dir / "stdout.txt", log_dir / "stderr.txt"
    with open(stdout_path, "w") as stdout, open(stderr_path, "w") as stderr:
        start = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, *map(str, command)],
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            preexec_fn=limit_address_space,
        )
    killed_for, peak = [], [0]
    exited = threading.Event()

    def watch():
        while not exited.wait(0.01):
            peak[0] = max(peak[0], resident_memory(process.pid, "VmHWM"))
            if time.monotonic() - start > timeout:
                killed_for.append("the timeout")
            elif resident_memory(process.pid) > guard.watchdog_resident:
                killed_for.append("memory")
            else:
                continue
            os.kill(process.pid, signal.SIGKILL)
            return

    watchdog = threading.Thread(target=watch, daemon=True)
    watchdog.start()
    try:
        # Wait without reaping: until it is reaped its pid cannot go to another process,
        # so the watchdog never kills a stranger.
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
    except BaseException:  # the test run is interrupted: take the program down with it
        os.kill(process.pid, signal.SIGKILL)
        raise
    finally:
        exited.set()
        watchdog.join()
    peak[0] = max(peak[0], resident_memory(process.pid, "VmHWM"))  # exited: 0, or the last
    _, status, _ = os.wait4(process.pid, 0)
    seconds = time.monotonic() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return GuardedRun(
        returncode=process.returncode,
        stdout=stdout_path.read_text(errors="replace"),
        stderr=stderr_path.read_text(errors="replace"),
        seconds=seconds,
        peak_resident=peak[0],
        killed_for="".join(killed_for),
    )


def run_reader(path, log_dir):
    """The tutorial's reader alone, on a local copy at path (see load_local_copy.py)."""
    return run_guarded([READER, SCRIPT, path], READER_GUARD, log_dir)


def run_tutorial_guarded(*flags, log_dir, timeout=None):
    return run_guarded([SCRIPT, *flags], TUTORIAL_GUARD, log_dir, timeout)


@pytest.fixture(scope="module")
def startup_seconds(tmp_path_factory):
    """How long the reader takes to refuse a path that is not there: its startup."""
    log_dir = tmp_path_factory.mktemp("startup")
    run = run_reader(log_dir / "nowhere", log_dir)
    assert run.returncode == 1 and not run.killed_for, run.describe()
    assert run.stderr.strip() == f"error: {log_dir / 'nowhere'}: no such file or folder"
    return run.seconds


def assert_refused(run, names, guard, startup_seconds):
    """The contract for a refusal. names: the error line must hold at least one of them."""
    details = run.describe()
    assert not run.killed_for, details
    assert run.returncode == 1, details
    assert "Traceback" not in run.stderr, details
    lines = run.stderr.strip().splitlines()
    message = lines[-1] if lines else ""
    assert message.startswith("error: "), details
    assert any(name in message for name in names), (names, message)
    assert run.peak_resident <= guard.peak_resident, details
    assert run.seconds <= startup_seconds + guard.beyond_startup, (startup_seconds, details)
    return message


def refuse(data_dir, names, tmp_path, startup_seconds):
    """The reader alone must refuse data_dir: see assert_refused."""
    run = run_reader(data_dir, tmp_path)
    return assert_refused(run, names, READER_GUARD, startup_seconds)


def refuse_on_the_command_line(data_dir, names, tmp_path):
    """The whole tutorial must refuse --data-dir data_dir, and write no output."""
    output_dir = tmp_path / "out"
    run = run_tutorial_guarded(
        "--data-dir", data_dir, "--output-dir", output_dir, "--epochs", 1, log_dir=tmp_path
    )
    message = assert_refused(run, names, TUTORIAL_GUARD, startup_seconds=0)
    assert not output_dir.exists() or os.listdir(output_dir) == [], os.listdir(output_dir)
    return message


def copy_of(tiny_cifar10, tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    shutil.copytree(os.path.join(tiny_cifar10, "cifar-10-batches-py"), folder)
    return folder


# ---- Writing hostile pickles ----

HOLE = b"<zero bytes go here>"


@dataclass
class Opcodes:
    """Pickle opcodes written as they are, where an object would go."""

    code: bytes


@dataclass
class ZeroBytes:
    """A byte string of `size` zero bytes, left as a HOLE to fill in: see pickle_parts."""

    size: int


class HostilePickler(Python2Pickler):
    """Python2Pickler that also writes Opcodes and ZeroBytes, and memoizes no byte strings
    (a str turned bytes is a temporary, so its id may come back for another one)."""

    dispatch = dict(Python2Pickler.dispatch)

    def save_byte_string(self, obj):
        if isinstance(obj, str):
            obj = obj.encode("latin1")
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)

    def save_opcodes(self, obj):
        self.write(obj.code)

    def save_zero_bytes(self, obj):
        self.write(pickle.BINSTRING + struct.pack("<i", obj.size) + HOLE)

    dispatch[bytes] = save_byte_string
    dispatch[str] = save_byte_string
    dispatch[Opcodes] = save_opcodes
    dispatch[ZeroBytes] = save_zero_bytes


def hostile_pickle(obj):
    buffer = io.BytesIO()
    HostilePickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def pickle_parts(obj):
    """(bytes before, number of zero bytes, bytes after) of a pickle holding one ZeroBytes."""
    before, after = hostile_pickle(obj).split(HOLE)
    return before, int.from_bytes(before[-4:], "little"), after


@dataclass
class Reduced:
    """Pickles as `function(*arguments)`, then `state` given to __setstate__ if not None."""

    function: object
    arguments: tuple
    state: object = None

    def __reduce__(self):
        if self.state is None:
            return self.function, self.arguments
        return self.function, self.arguments, self.state


def lying_dtype(spec, state):
    """A numpy.dtype pickled with a hand-made __setstate__ tuple:
    (version, byte order, subarray, names, fields, item size, alignment, flags)."""
    return Reduced(np.dtype, (spec, False, True), state)


def array_from_state(shape, dtype, raw):
    """An ndarray pickled as NumPy does: _reconstruct, then __setstate__ with the raw bytes."""
    return Reduced(_reconstruct, (np.ndarray, (0,), b"b"), (1, shape, dtype, False, raw))


def zero_pictures(count):
    return array_from_state((count, 3072), np.dtype("uint8"), ZeroBytes(count * 3072))


def zero_picture_batch(name, count):
    """The parts of a well-formed batch of `count` black pictures (see pickle_parts)."""
    labels = [index % 10 for index in range(count)]
    record = {
        b"batch_label": name,
        b"labels": labels,
        b"data": zero_pictures(count),
        b"filenames": [f"{index:05d}.png" for index in range(count)],
    }
    return pickle_parts(record)


def tiny_record(name, size=60):
    labels = np.arange(size) % 10
    return batch_record(synthetic_images(labels, seed=3), labels, name)


def nested_list_opcodes(depth):
    """A list `depth` deep, each level holding the level below twice through the memo:
    485 bytes for depth 26, yet 2**26 zeros, shape (2,) * 26, for whoever walks it."""
    slot = [pickle.LONG_BINGET + struct.pack("<I", 1000 + level) for level in range(depth)]
    put = [pickle.LONG_BINPUT + struct.pack("<I", 1000 + level) for level in range(depth)]
    code = pickle.EMPTY_LIST + pickle.MARK + pickle.BININT1 + b"\0" + pickle.BININT1 + b"\0"
    code += pickle.APPENDS
    for level in range(1, depth):
        code += put[level - 1] + pickle.POP + pickle.EMPTY_LIST + pickle.MARK
        code += slot[level - 1] + slot[level - 1] + pickle.APPENDS
    return Opcodes(code)


# ---- Writing archives: huge members in a small, quickly written .tar.gz ----

ZERO_MIB = bytes(2**20)
_compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
# One MiB of zeros as a deflate block that refers to nothing before it (full flush), so it
# can be repeated: a gigabyte of zeros takes a second to write, and a megabyte of disk.
DEFLATED_ZERO_MIB = _compressor.compress(ZERO_MIB) + _compressor.flush(zlib.Z_FULL_FLUSH)


class GzipWriter:
    """Writes a gzip file from byte strings and long runs of zeros, in little memory."""

    def __init__(self, path):
        self.file = open(path, "wb")
        self.file.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")  # no name, no time
        self.compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        self.crc, self.size = 0, 0

    def write(self, data):
        self.file.write(self.compressor.compress(data))
        self.crc, self.size = zlib.crc32(data, self.crc), self.size + len(data)

    def write_zeros(self, count):
        self.file.write(self.compressor.flush(zlib.Z_FULL_FLUSH))
        for _ in range(count // len(ZERO_MIB)):
            self.file.write(DEFLATED_ZERO_MIB)
            self.crc = zlib.crc32(ZERO_MIB, self.crc)
        self.size += count // len(ZERO_MIB) * len(ZERO_MIB)
        self.write(bytes(count % len(ZERO_MIB)))

    def close(self):
        self.file.write(self.compressor.flush())
        self.file.write(struct.pack("<II", self.crc, self.size % 2**32))
        self.file.close()


def write_tar_gz(path, members):
    """members: (name, parts), each part bytes or an int, that many zero bytes."""
    archive = GzipWriter(path)
    for name, parts in members:
        size = sum(part if isinstance(part, int) else len(part) for part in parts)
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o644, 1262304000
        archive.write(info.tobuf(format=tarfile.GNU_FORMAT))
        for part in parts:
            archive.write_zeros(part) if isinstance(part, int) else archive.write(part)
        archive.write_zeros(-size % 512)
    archive.write_zeros(1024)  # the end-of-archive marker
    archive.close()
    return path


def official_members(folder, replace=None):
    """The batch files of a folder as (member name, [contents]), some replaced."""
    replace = replace or {}
    return [
        (f"cifar-10-batches-py/{name}", replace.get(name) or [(folder / name).read_bytes()])
        for name in sorted(os.listdir(folder))
    ]


# ---- The checks that the attacks are real, in plain Python and NumPy ----

PLAIN_LOAD = """
import pickle, resource, sys, warnings
resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))
import numpy as np
warnings.simplefilter("ignore")
with open(sys.argv[1], "rb") as batch_file:
    batch = pickle.loads(batch_file.read(), encoding="bytes")
"""
PLAIN_LABELS = """
labels = np.asarray(batch[b"labels"])
dtypes = [labels.dtype] + [labels.dtype[name] for name in labels.dtype.names or ()]
print("objects" if any(dtype.kind == "O" for dtype in dtypes) else "no objects",
      "flagged" if labels.dtype.hasobject else "unflagged")
"""
PLAIN_PICTURES = """
np.ascontiguousarray(batch[b"data"])
print("survived")
"""


def plain_numpy(program, path):
    return subprocess.run(
        [sys.executable, "-c", program, str(path)], capture_output=True, text=True, timeout=60
    )


# ---- 1. A dtype whose flags say "no Python objects" for an object field ----

POINTERS = (0x4141414141).to_bytes(8, "little") * 60  # addresses nothing is mapped at
UNFLAGGED_OBJECT = lying_dtype("O8", (3, "|", None, None, None, -1, -1, 0))
UNFLAGGED_OBJECT_FIELD = lying_dtype(
    "V8", (3, "|", None, ("label",), {"label": (np.dtype("O"), 0)}, 8, 1, 0)
)
DTYPE_FLAG_LABELS = {
    # Either way NumPy copies the 60 "pointers" in as raw bytes, and takes them for objects.
    "object field": array_from_state((60,), UNFLAGGED_OBJECT_FIELD, POINTERS),
    # np.asarray of the list reads the objects at those addresses, and segfaults.
    "object array in a list": [array_from_state((60,), UNFLAGGED_OBJECT, POINTERS)],
}


def write_dtype_flags_batch(folder, kind):
    record = tiny_record("data_batch_2")
    record[b"labels"] = DTYPE_FLAG_LABELS[kind]
    (folder / "data_batch_2").write_bytes(hostile_pickle(record))
    return folder / "data_batch_2"


@pytest.mark.parametrize("kind", list(DTYPE_FLAG_LABELS))
def test_the_dtype_flags_attack_is_real_in_plain_numpy(kind, tmp_path):
    path = write_dtype_flags_batch(tmp_path, kind)
    process = plain_numpy(PLAIN_LOAD + PLAIN_LABELS, path)
    crashed = process.returncode < 0
    assert crashed or process.stdout.split() == ["objects", "unflagged"], process


@pytest.mark.parametrize("kind", list(DTYPE_FLAG_LABELS))
def test_a_dtype_that_hides_objects_is_refused(kind, tiny_cifar10, tmp_path, startup_seconds):
    folder = copy_of(tiny_cifar10, tmp_path)
    write_dtype_flags_batch(folder, kind)
    refuse(folder, ["data_batch_2"], tmp_path, startup_seconds)


def test_the_command_line_refuses_a_dtype_that_hides_objects(tiny_cifar10, tmp_path):
    folder = copy_of(tiny_cifar10, tmp_path)
    write_dtype_flags_batch(folder, "object array in a list")
    refuse_on_the_command_line(folder, ["data_batch_2"], tmp_path)


# ---- 2. A million pictures out of a few bytes ----


def zero_stride(shape):
    """numpy.ndarray(shape, uint8, buffer=b"\\0", offset=0, strides=all 0): ndarray's own
    constructor, an allowed global, sets strides directly. Every picture is the same byte,
    so the file is tiny; anything that copies it (np.ascontiguousarray, np.concatenate)
    needs shape's product in bytes: 3 GB for 10**6 pictures."""
    return Reduced(np.ndarray, (shape, np.dtype("uint8"), b"\0", 0, (0,) * len(shape)))


MILLION_PICTURE_DATA = {
    "zero strides": zero_stride((10**6, 3072)),
    # _reconstruct(ndarray, shape, dtype) with no __setstate__ after it: NumPy allocates
    # the shape it is given (3 GB, not yet touched) and the unpickler keeps it as it is.
    "uninitialised": Reduced(_reconstruct, (np.ndarray, (10**6, 3072), b"B")),
}


def write_million_picture_batch(folder, kind):
    record = {
        b"batch_label": b"data_batch_1",
        b"data": MILLION_PICTURE_DATA[kind],
        b"labels": zero_stride((10**6,)),  # a million labels 0, from one byte
        b"filenames": [],
    }
    (folder / "data_batch_1").write_bytes(hostile_pickle(record))
    return folder / "data_batch_1"


@pytest.mark.parametrize("kind", list(MILLION_PICTURE_DATA))
def test_the_million_picture_bomb_is_real_in_plain_numpy(kind, tmp_path):
    path = write_million_picture_batch(tmp_path, kind)
    assert path.stat().st_size < 1000
    process = plain_numpy(PLAIN_LOAD + PLAIN_PICTURES, path)  # under a 2 GiB RLIMIT_AS
    assert process.returncode != 0 and "survived" not in process.stdout, process
    assert process.returncode < 0 or "MemoryError" in process.stderr, process


@pytest.mark.parametrize("kind", list(MILLION_PICTURE_DATA))
def test_a_million_pictures_from_a_few_bytes_are_refused(
    kind, tiny_cifar10, tmp_path, startup_seconds
):
    folder = copy_of(tiny_cifar10, tmp_path)
    write_million_picture_batch(folder, kind)
    refuse(folder, ["data_batch_1"], tmp_path, startup_seconds)


# ---- 3. Labels nested 26 deep through memo references ----


def test_labels_nested_26_deep_are_refused(tiny_cifar10, tmp_path, startup_seconds):
    folder = copy_of(tiny_cifar10, tmp_path)
    record = tiny_record("data_batch_4")
    record[b"labels"] = nested_list_opcodes(26)
    (folder / "data_batch_4").write_bytes(hostile_pickle(record))
    assert len(nested_list_opcodes(26).code) < 500
    refuse(folder, ["data_batch_4"], tmp_path, startup_seconds)


# ---- 4 and 5. Batch files far larger than the official 31 MB ----

LARGE = 16_300  # black pictures: 50 MB of well-formed batch
HUGE = 2**30  # bytes of zeros: whoever reads it all in needs more than 1 GiB


@pytest.mark.parametrize("content", ["50 MB well-formed batch", "1 GiB of zeros"])
def test_an_oversized_archive_member_is_refused(content, tiny_cifar10, tmp_path, startup_seconds):
    folder = copy_of(tiny_cifar10, tmp_path)
    if content == "1 GiB of zeros":
        parts = [HUGE]
    else:
        parts = list(zero_picture_batch("data_batch_1", LARGE))
    assert sum(part if isinstance(part, int) else len(part) for part in parts) > MEMBER_LIMIT
    archive = tmp_path / "cifar-10-python.tar.gz"
    write_tar_gz(archive, official_members(folder, {"data_batch_1": parts}))
    assert archive.stat().st_size < 2 * 2**20
    shutil.rmtree(folder)
    refuse(archive, ["data_batch_1", "cifar-10-python.tar.gz"], tmp_path, startup_seconds)


@pytest.mark.parametrize("content", ["50 MB well-formed batch", "1 GiB of zeros"])
def test_an_oversized_batch_file_is_refused(content, tiny_cifar10, tmp_path, startup_seconds):
    folder = copy_of(tiny_cifar10, tmp_path)
    path = folder / "data_batch_5"
    with open(path, "wb") as batch_file:  # sparse: the zeros are a hole, costing no disk
        if content == "1 GiB of zeros":
            batch_file.truncate(HUGE)
        else:
            before, zeros, after = zero_picture_batch("data_batch_5", LARGE)
            batch_file.write(before)
            batch_file.seek(zeros, os.SEEK_CUR)
            batch_file.write(after)
    assert path.stat().st_size > MEMBER_LIMIT and path.stat().st_blocks * 512 < 2 * 2**20
    refuse(folder, ["data_batch_5"], tmp_path, startup_seconds)


# ---- 6. Only members under cifar-10-batches-py/ count ----


def archive_with_a_stray_test_batch(stray_place, tiny_cifar10, tmp_path):
    folder = copy_of(tiny_cifar10, tmp_path)
    stray_labels = (np.arange(40) * 3 + 1) % 10
    stray_images = synthetic_images(stray_labels, seed=9)
    stray = hostile_pickle(batch_record(stray_images, stray_labels, "test_batch"))
    members = official_members(folder)
    stray_member = ("other/x/test_batch", [stray])
    members = [stray_member, *members] if stray_place == "before" else [*members, stray_member]
    return write_tar_gz(tmp_path / "cifar-10-python.tar.gz", members)


@pytest.mark.parametrize("stray_place", ["before", "after"])
def test_a_stray_test_batch_elsewhere_in_the_archive_is_ignored(
    stray_place, tiny_cifar10, tmp_path
):
    archive = archive_with_a_stray_test_batch(stray_place, tiny_cifar10, tmp_path)
    run = run_reader(archive, tmp_path)
    assert run.returncode == 0 and not run.killed_for, run.describe()
    assert "x_train: (300, 32, 32, 3) uint8" in run.stdout, run.describe()
    assert "x_test: (100, 32, 32, 3)" in run.stdout, run.describe()
    assert "(40, 32, 32, 3)" not in run.stdout


def test_the_command_line_ignores_a_stray_test_batch(tiny_cifar10, tmp_path):
    archive = archive_with_a_stray_test_batch("after", tiny_cifar10, tmp_path)
    output_dir = tmp_path / "out"
    run = run_tutorial_guarded(
        "--data-dir",
        archive,
        "--output-dir",
        output_dir,
        "--epochs",
        1,
        log_dir=tmp_path,
        timeout=300,
    )
    assert run.returncode == 0 and not run.killed_for, run.describe()
    assert "x_test: (100, 32, 32, 3)" in run.stdout, run.describe()
    assert "(40, 32, 32, 3)" not in run.stdout
    assert (output_dir / "metrics.json").exists()


# ---- 6b. An archive of more than 100 entries (the real one has 8) ----


@pytest.mark.parametrize("entries", [100, 101, 300_000])
def test_an_archive_of_more_than_100_entries_is_refused(
    entries, tiny_cifar10, tmp_path, startup_seconds
):
    """Many empty entries, before the real ones: tarfile would list them all in memory."""
    members = official_members(copy_of(tiny_cifar10, tmp_path))
    members = [(f"other/{index}", []) for index in range(entries - len(members))] + members
    archive = write_tar_gz(tmp_path / "cifar-10-python.tar.gz", members)
    if entries <= 100:
        run = run_reader(archive, tmp_path)
        assert run.returncode == 0 and not run.killed_for, run.describe()
        assert "x_train: (300, 32, 32, 3) uint8" in run.stdout, run.describe()
    else:
        message = refuse(archive, ["cifar-10-python.tar.gz"], tmp_path, startup_seconds)
        assert "more than 100 entries" in message, message


# ---- 6c. A first header that claims 2 GB of pax attributes or of a GNU long name ----


def finish_archive(archive, path, members):
    """Write the members (name, [bytes]) and the end-of-archive marker; close the archive."""
    for name, parts in members:
        member = tarfile.TarInfo(name)
        member.size = sum(len(part) for part in parts)
        archive.write(member.tobuf(format=tarfile.GNU_FORMAT) + b"".join(parts))
        archive.write_zeros(-member.size % 512)
    archive.write_zeros(1024)
    archive.close()
    return path


def write_forged_header_archive(path, kind, members):
    """A gzip stream whose first tar header claims 2 GB of extended header: Python's tarfile
    reads such a header whole, at the size it claims, before any member limit applies."""
    archive = GzipWriter(path)
    info = tarfile.TarInfo("././@PaxHeader" if kind == "pax" else "././@LongLink")
    info.type = tarfile.XHDTYPE if kind == "pax" else tarfile.GNUTYPE_LONGNAME
    info.size, info.mtime = 2 * HUGE, 1262304000
    archive.write(info.tobuf(format=tarfile.USTAR_FORMAT if kind == "pax" else tarfile.GNU_FORMAT))
    archive.write_zeros(2 * HUGE)
    return finish_archive(archive, path, members)


@pytest.mark.parametrize("kind", ["pax", "GNU long name"])
def test_a_first_header_claiming_2_gb_is_refused_in_bounded_memory(
    kind, tiny_cifar10, tmp_path, startup_seconds
):
    members = official_members(copy_of(tiny_cifar10, tmp_path))
    archive = tmp_path / "cifar-10-python.tar.gz"
    write_forged_header_archive(archive, kind, members)
    assert archive.stat().st_size < 4 * 2**20
    message = refuse(archive, ["cifar-10-python.tar.gz"], tmp_path, startup_seconds)
    assert "40 MB" in message, message


def write_long_name_archive(path, names, name_size, members):
    """Entries whose GNU long names (a header of their own each) take name_size bytes."""
    archive = GzipWriter(path)
    for index in range(names):
        info = tarfile.TarInfo("././@LongLink")
        info.type, info.size = tarfile.GNUTYPE_LONGNAME, name_size
        archive.write(info.tobuf(format=tarfile.GNU_FORMAT) + b"n" * 100)
        archive.write_zeros(name_size - 100 + (-name_size % 512))
        entry = tarfile.TarInfo(f"other/{index}")
        archive.write(entry.tobuf(format=tarfile.GNU_FORMAT))
    return finish_archive(archive, path, members)


def write_chained_long_names(path, count, members):
    """count GNU long-name headers in a row: tarfile reads each by calling itself again."""
    archive = GzipWriter(path)
    for _ in range(count):
        info = tarfile.TarInfo("././@LongLink")
        info.type, info.size = tarfile.GNUTYPE_LONGNAME, 100
        archive.write(info.tobuf(format=tarfile.GNU_FORMAT) + b"n" * 100 + bytes(412))
    return finish_archive(archive, path, members)


def test_seven_long_names_of_38_mb_are_refused_in_bounded_memory(
    tiny_cifar10, tmp_path, startup_seconds
):
    """Each read is under the 40 MB limit, but tarfile keeps every name: the total is capped."""
    members = official_members(copy_of(tiny_cifar10, tmp_path))
    archive = tmp_path / "cifar-10-python.tar.gz"
    write_long_name_archive(archive, 7, 38_000_000, members)
    message = refuse(archive, ["cifar-10-python.tar.gz"], tmp_path, startup_seconds)
    assert "240 MB" in message, message


def test_3000_chained_long_name_headers_are_refused_with_one_line(
    tiny_cifar10, tmp_path, startup_seconds
):
    members = official_members(copy_of(tiny_cifar10, tmp_path))
    archive = write_chained_long_names(tmp_path / "cifar-10-python.tar.gz", 3000, members)
    refuse(archive, ["cifar-10-python.tar.gz"], tmp_path, startup_seconds)


# ---- 7 and 8. Labels that are not a flat list of ints; empty batches ----

LABELS = np.arange(60) % 10
NOT_FLAT_INTS = {
    "floats": [float(label) for label in LABELS],  # 3.0, not 3
    "strings": [str(label) for label in LABELS],  # "3", not 3
    "2-D array": LABELS.reshape(60, 1),
}


@pytest.mark.parametrize("kind", list(NOT_FLAT_INTS))
def test_labels_that_are_not_a_flat_list_of_ints_are_refused(
    kind, tiny_cifar10, tmp_path, startup_seconds
):
    folder = copy_of(tiny_cifar10, tmp_path)
    record = tiny_record("data_batch_2")
    record[b"labels"] = NOT_FLAT_INTS[kind]
    (folder / "data_batch_2").write_bytes(hostile_pickle(record))
    refuse(folder, ["data_batch_2"], tmp_path, startup_seconds)


@pytest.mark.parametrize("name", ["data_batch_3", "test_batch"])
def test_an_empty_batch_is_refused(name, tiny_cifar10, tmp_path, startup_seconds):
    folder = copy_of(tiny_cifar10, tmp_path)
    record = batch_record(np.zeros((0, 32, 32, 3), np.uint8), [], name)
    assert record[b"data"].shape == (0, 3072)
    (folder / name).write_bytes(hostile_pickle(record))
    refuse(folder, [name], tmp_path, startup_seconds)


# ---- 9 and 10. Things that are not regular files, and files that cannot be read ----


@pytest.mark.parametrize("kind", ["named pipe", "/dev/zero"])
def test_a_data_dir_that_is_a_pipe_or_a_device_is_refused(kind, tmp_path, startup_seconds):
    if kind == "named pipe":
        data_dir = tmp_path / "cifar-10-python.tar.gz"
        os.mkfifo(data_dir)  # opened for reading, it would wait for a writer forever
        name, words = data_dir.name, ["FIFO", "named pipe"]
    else:
        data_dir = name = "/dev/zero"  # read, it never ends
        words = ["device"]
    message = refuse(data_dir, [name], tmp_path, startup_seconds)
    assert any(word in message for word in words), message
    assert "no such file" not in message, message


def test_the_command_line_refuses_a_named_pipe(tmp_path):
    data_dir = tmp_path / "cifar-10-python.tar.gz"
    os.mkfifo(data_dir)
    message = refuse_on_the_command_line(data_dir, [data_dir.name], tmp_path)
    assert "FIFO" in message or "named pipe" in message, message


@pytest.mark.parametrize("kind", ["a folder", "a named pipe", "a read error"])
def test_a_batch_file_that_cannot_be_read_is_not_called_damaged(
    kind, tiny_cifar10, tmp_path, startup_seconds
):
    folder = copy_of(tiny_cifar10, tmp_path)
    path = folder / "data_batch_3"
    path.unlink()
    if kind == "a folder":
        path.mkdir()
    elif kind == "a named pipe":
        os.mkfifo(path)
    else:  # as root too: reading /proc/self/mem at offset 0 fails with EIO
        path.symlink_to("/proc/self/mem")
    message = refuse(folder, ["data_batch_3"], tmp_path, startup_seconds)
    assert "damaged" not in message, message


# ---- 11. Pickles that call what a CIFAR-10 file never needs ----


def calls(kind, marker):
    if kind == "os.system":
        return Reduced(os.system, (f"touch {marker}",))
    if kind == "builtins.eval":
        return Reduced(eval, (f"open({str(marker)!r}, 'w').close()",))
    if kind == "numpy.frombuffer":
        return Reduced(np.frombuffer, (bytes(60 * 3072), "u1"))
    # "numpy.dtype object field", in an honest array: its labels are Python objects.
    return np.array([(int(label),) for label in LABELS], dtype=[("label", "O")])


@pytest.mark.parametrize(
    "kind", ["os.system", "builtins.eval", "numpy.frombuffer", "numpy.dtype object field"]
)
def test_a_pickle_that_calls_anything_else_is_refused(
    kind, tiny_cifar10, tmp_path, startup_seconds
):
    folder = copy_of(tiny_cifar10, tmp_path)
    marker = tmp_path / "code-was-run"
    record = tiny_record("data_batch_3")
    record[b"data" if kind == "numpy.frombuffer" else b"labels"] = calls(kind, marker)
    (folder / "data_batch_3").write_bytes(hostile_pickle(record))
    refuse(folder, ["data_batch_3"], tmp_path, startup_seconds)
    assert not marker.exists(), "the pickle ran its code"
