"""Parse the blocks of a large text file in worker processes, handing the chunks back in order.

A JSON Lines import spends about half its CPU in Arrow's JSON parser. For a file of at least
``SPLIT_MIN_BYTES``, this process cuts the file into the very blocks the single-process
reader would (``iter_line_spans``: whole lines, each block carrying its byte offset and first
line number), and a worker reads and parses them while the import pipeline converts, checks,
writes and hashes the chunks, in file order, exactly as it would the local reader's. So the
output is the same file, byte for byte, and problems name the same lines.

Errors keep the single-process order: a worker's error (an unknown key, say) is raised when
the pipeline reaches its block, after every block before it; this process's own error (a
byte that is not UTF-8, found as each 16 MiB piece is read) after the blocks handed out
before it. So the first error wins whichever process found it. A worker that dies (killed,
out of memory) ends the import with an error instead of a hang; leaving early (an error,
Ctrl-C) kills and reaps the workers, so none is left behind.

Workers are fresh interpreters (``python -P -c``) fed over pipes, not ``multiprocessing``: a
forked child of a process running Arrow's thread pools may inherit a lock another thread
held, and ``spawn`` re-runs the caller's main script, which a script without an
``if __name__ == "__main__"`` guard does not survive. Each runs in its own process group, so
Ctrl-C reaches the importing process only, which stops them.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from nexusctl.errors import EnvironmentError_, NexusError, TrafficError
from nexusctl.traffic.importers._raw import LineBlock, RawTraffic

#: Smaller files are parsed in this process: starting a worker (a fresh interpreter that
#: imports pyarrow) costs 0.3-0.4 s of CPU, about what it saves on a file of this size.
SPLIT_MIN_BYTES = 64 << 20
#: At most this many workers. Each costs ~135 MiB (an interpreter with pyarrow, one block and
#: its parse), and one is enough: a worker parses 1M rows of 425 bytes in ~3 s of CPU, about
#: what this process spends converting, checking, writing and hashing them (its own threads),
#: so a second worker would wait for this process while adding to the peak memory.
MAX_WORKERS = 1
#: Blocks queued or parsed ahead per worker: enough to keep each busy, and bounded memory.
_AHEAD = 2

#: Parse one block: (path, bytes, first line number, line count) -> chunk.
BlockParser = Callable[[Path, bytes, int, int], RawTraffic]


def split_workers(size: int) -> int:
    """How many worker processes to parse a file of ``size`` bytes with (0: parse here)."""
    import sys

    if size < SPLIT_MIN_BYTES or not sys.executable or os.name != "posix":
        return 0  # workers read with os.pread and run in their own process group (POSIX)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    # This process converts, checks and writes the chunks meanwhile: it keeps a core busy.
    return max(0, min((cpus or 1) - 1, MAX_WORKERS))


@dataclass(frozen=True)
class _Failed:
    """A worker's error, carried back as data (an exception's pickle drops its hint).

    ``kind`` None: an unexpected exception (a bug), raised here as one so that it ends the
    import as it would in one process (internal error), not as a lost worker.
    """

    kind: type[NexusError] | None
    message: str
    hint: str | None

    def raise_it(self) -> NoReturn:
        if self.kind is None:
            raise RuntimeError(f"in the parse worker: {self.message}")
        raise self.kind(self.message, hint=self.hint)


#: The peak resident memory (KiB) of each worker of the last split parse in this process (empty
#: if it did not run to its end): ``bench/traffic.py`` adds them to the importer's own peak.
WORKER_PEAKS_KIB: list[int] = []


def parse_in_workers(
    path: Path, blocks: Iterator[LineBlock], parse: BlockParser, workers: int
) -> Iterator[RawTraffic]:
    """Yield ``parse`` of each of ``blocks``, in order, parsed by ``workers`` processes.

    ``parse`` must be a module-level function (it is sent to the workers by name). Block i
    goes to worker i mod ``workers``, which answers in the order it was asked, so the chunks
    are read back in file order; at most ``_AHEAD`` blocks wait per worker.

    Raises:
        TrafficError: what ``blocks`` or ``parse`` raised, first by position in the file; a
            block that changed after this process read it.
        EnvironmentError_: a worker could not start, or ended unexpectedly.
    """
    pool: list[_Worker] = []
    finished = False
    try:
        while len(pool) < workers:
            pool.append(_Worker(path))  # if one cannot start, those started are stopped below
        queued: deque[_Worker | NexusError] = deque()
        source: Iterator[LineBlock] | None = blocks
        sent = 0
        while True:
            while source is not None and len(queued) < workers * _AHEAD:
                try:
                    block = next(source)
                except StopIteration:
                    source = None
                    break
                except NexusError as exc:
                    # Found here: raised after the blocks before it, as a local reader would.
                    queued.append(exc)
                    source = None
                    break
                worker = pool[sent % workers]
                sent += 1
                worker.send((parse, path, block.offset, block.size, block.first_line, block.lines))
                queued.append(worker)
            if not queued:
                finished = True
                return
            head = queued.popleft()
            if isinstance(head, NexusError):
                raise head
            result = head.receive()
            if isinstance(result, _Failed):
                result.raise_it()
            yield result
    finally:
        peaks = [worker.stop(finished) for worker in pool]
        WORKER_PEAKS_KIB[:] = peaks if finished else []


class _Worker:
    """One worker process: tasks go to its stdin, results come back on its stdout (pickles)."""

    def __init__(self, path: Path) -> None:
        import subprocess
        import sys

        import nexusctl

        self._path = path
        # The worker imports nexusctl from where this process did, whatever the current folder.
        root = str(Path(nexusctl.__file__).resolve().parent.parent)
        code = f"import sys; sys.path.insert(0, {root!r}); {_SERVE}"
        try:
            # Its own process group: Ctrl-C reaches this process only, which stops the workers.
            self._process = subprocess.Popen(
                [sys.executable, "-P", "-c", code],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                process_group=0,
            )
        except OSError as exc:
            raise EnvironmentError_(f"{path}: cannot start a worker process: {exc}") from None

    def send(self, task: tuple[Any, ...]) -> None:
        import pickle

        assert self._process.stdin is not None
        try:
            pickle.dump(task, self._process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._process.stdin.flush()
        except OSError:
            self._died()

    def receive(self) -> Any:
        import pickle

        assert self._process.stdout is not None
        try:
            return pickle.load(self._process.stdout)  # noqa: S301 (our own worker's answer)
        except (EOFError, OSError, pickle.UnpicklingError):
            self._died()

    def _died(self) -> NoReturn:
        code = self._process.wait()
        raise EnvironmentError_(
            f"{self._path}: a worker process parsing the file ended unexpectedly (exit code "
            f"{code}{', killed' if code < 0 else ''})",
            hint="out of memory? retry on a quieter machine, or split the file",
        )

    def stop(self, finished: bool) -> int:
        """End the worker; return its peak memory in KiB (0 if it was stopped early)."""
        import contextlib
        import pickle

        process = self._process
        peak = 0
        if finished:
            # Every answer was read: on end of input the worker reports its peak and exits.
            with contextlib.suppress(Exception):
                assert process.stdin is not None
                assert process.stdout is not None
                process.stdin.close()
                peak = int(pickle.load(process.stdout))  # noqa: S301 (our own worker's answer)
        else:
            process.kill()  # it may be blocked writing an answer nobody will read
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        process.wait()
        return peak


_SERVE = "from nexusctl.traffic.importers._split import serve; serve()"


def serve() -> None:
    """A worker's loop: read (parser, path, offset, length, first line, lines) tasks on stdin,
    write each parsed chunk (or ``_Failed``) on stdout; at end of input, its peak memory.
    """
    import pickle
    import signal

    import pyarrow as pa

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The workers are the parallelism: Arrow's own thread pool would only add threads' buffers.
    pa.set_cpu_count(1)
    # mimalloc (Arrow's default here) keeps 50 MiB more per worker across blocks than jemalloc
    # or the system allocator.
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:  # an Arrow built without jemalloc
        pa.set_memory_pool(pa.system_memory_pool())
    tasks = os.fdopen(0, "rb")
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print must not corrupt the answers
    while True:
        try:
            # Tasks come from the importing process that started this one, over its pipe.
            parse, path, offset, length, first_line, lines = pickle.load(tasks)  # noqa: S301
        except EOFError:
            break
        result = _parse_block(parse, path, offset, length, first_line, lines)
        pickle.dump(result, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()
    pickle.dump(_peak_kib(), answers)
    answers.flush()


def _peak_kib() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


_OPEN: dict[Path, Any] = {}


def _parse_block(
    parse: BlockParser, path: Path, offset: int, length: int, first_line: int, lines: int
) -> RawTraffic | _Failed:
    """Read ``length`` bytes at ``offset`` of ``path`` and parse them (in a worker)."""
    try:
        handle = _OPEN.get(path)
        if handle is None:
            handle = _OPEN[path] = path.open("rb")
        data = os.pread(handle.fileno(), length, offset)
        if len(data) != length or not (data.isascii() or _is_utf8(data)):
            # This process read and checked these bytes a moment ago; they differ now.
            raise TrafficError(f"{path}:{first_line}: the file changed while it was imported")
        return parse(path, data, first_line, lines)
    except NexusError as exc:
        return _Failed(type(exc), exc.message, exc.hint)
    except OSError as exc:
        return _Failed(TrafficError, f"{path}: cannot read: {exc.strerror or exc}", None)
    except Exception as exc:  # a bug: reported by the importing process, not a lost worker
        return _Failed(None, f"{type(exc).__name__}: {exc}", None)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
