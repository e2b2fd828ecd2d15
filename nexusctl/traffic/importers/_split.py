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

import contextlib
import os
import struct
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, cast

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
) -> SplitChunks:
    """Start ``workers`` processes now; the result yields ``parse`` of each of ``blocks``.

    The workers start (and are handed their first blocks) at once, not at the first chunk
    asked for: an interpreter that imports pyarrow takes ~0.4 s to start, time this process
    spends opening its output and loading its own modules meanwhile. ``parse`` must be a
    module-level function (it is sent to the workers by name). Close the result when leaving
    it early (an error, Ctrl-C): that stops the workers.

    Raises:
        EnvironmentError_: a worker could not start.
    """
    return SplitChunks(path, blocks, parse, workers)


class SplitChunks(Iterator[RawTraffic]):
    """The parsed chunks of a file, in file order, from worker processes.

    Block i goes to worker i mod ``workers``, which answers in the order it was asked, so the
    chunks are read back in file order; at most ``_AHEAD`` blocks wait per worker.

    Iterating raises:
        TrafficError: what ``blocks`` or ``parse`` raised, first by position in the file; a
            block that changed after this process read it.
        EnvironmentError_: a worker ended unexpectedly.
    """

    def __init__(
        self, path: Path, blocks: Iterator[LineBlock], parse: BlockParser, workers: int
    ) -> None:
        self._path = path
        self._parse = parse
        self._pool: list[_Worker] = []
        self._queued: deque[_Worker | NexusError] = deque()
        self._source: Iterator[LineBlock] | None = blocks
        self._sent = 0
        self._open = True
        try:
            while len(self._pool) < workers:
                self._pool.append(_Worker(path))
            self._hand_out()
        except BaseException:
            self._stop(finished=False)  # those started are stopped
            raise

    def __iter__(self) -> SplitChunks:
        return self

    def __next__(self) -> RawTraffic:
        if not self._open:
            raise StopIteration
        try:
            self._hand_out()
            if not self._queued:
                self._stop(finished=True)
                raise StopIteration
            head = self._queued.popleft()
            if isinstance(head, NexusError):
                raise head
            result = head.receive()
            if isinstance(result, _Failed):
                result.raise_it()
            return cast(RawTraffic, result)
        except StopIteration:
            raise
        except BaseException:
            self._stop(finished=False)
            raise

    def close(self) -> None:
        """Stop the workers (killed if chunks were left unread); idempotent."""
        self._stop(finished=False)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit, modules may be gone
            self.close()

    def _hand_out(self) -> None:
        """Send blocks until ``_AHEAD`` wait per worker (or the blocks or an error end)."""
        workers = len(self._pool)
        while self._source is not None and len(self._queued) < workers * _AHEAD:
            try:
                block = next(self._source)
            except StopIteration:
                self._source = None
                break
            except NexusError as exc:
                # Found here: raised after the blocks before it, as a local reader would.
                self._queued.append(exc)
                self._source = None
                break
            worker = self._pool[self._sent % workers]
            self._sent += 1
            worker.send(
                (self._parse, self._path, block.offset, block.size, block.first_line, block.lines)
            )
            self._queued.append(worker)

    def _stop(self, *, finished: bool) -> None:
        if not self._open:
            return
        self._open = False
        self._source = None
        self._queued.clear()
        peaks = [worker.stop(finished) for worker in self._pool]
        WORKER_PEAKS_KIB[:] = peaks if finished else []


class _Worker:
    """One worker process: tasks go to its stdin (pickles), answers come back on its stdout
    (``_write_answer``).
    """

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
            return _read_answer(self._process.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            self._died()
        except ValueError:
            self._died(garbled=True)

    def _died(self, *, garbled: bool = False) -> NoReturn:
        if garbled:
            self._process.kill()  # alive, perhaps, but its answers can no longer be read
            self._process.wait()
            raise EnvironmentError_(
                f"{self._path}: a worker process parsing the file sent an answer that cannot "
                "be read; it was stopped",
                hint="retry; if it happens again, report it (it is a bug)",
            )
        code = self._process.wait()
        raise EnvironmentError_(
            f"{self._path}: a worker process parsing the file ended unexpectedly (exit code "
            f"{code}{', killed' if code < 0 else ''})",
            hint="out of memory? retry on a quieter machine, or split the file",
        )

    def stop(self, finished: bool) -> int:
        """End the worker; return its peak memory in KiB (0 if it was stopped early)."""

        process = self._process
        peak = 0
        if finished:
            # Every answer was read: on end of input the worker reports its peak and exits.
            with contextlib.suppress(Exception):
                assert process.stdin is not None
                assert process.stdout is not None
                process.stdin.close()
                peak = int(_read_answer(process.stdout))
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
    sender = _Sender(answers)
    while True:
        try:
            # Tasks come from the importing process that started this one, over its pipe.
            parse, path, offset, length, first_line, lines = pickle.load(tasks)  # noqa: S301
        except EOFError:
            break
        if not sender.send(_parse_block(parse, path, offset, length, first_line, lines)):
            return  # the importing process is gone
    if sender.send(_peak_kib()):
        sender.finish()


class _Sender:
    """Writes a worker's answers from a thread, so that it parses the next block meanwhile.

    An answer (~7 MiB per 16 MiB block) fills the pipe until the importing process reads it,
    which it does only when it is done with the chunk before. At most one answer is being
    written while the next is parsed (one chunk more in memory, ~10 MiB).
    """

    def __init__(self, stream: Any) -> None:
        import queue
        import threading

        self._stream = stream
        self._outbox: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._broken = threading.Event()
        self._thread = threading.Thread(target=self._run, name="split-sender", daemon=True)
        self._thread.start()

    def send(self, answer: Any) -> bool:
        """Hand ``answer`` over once the one before is written; False if the pipe broke."""
        self._outbox.join()
        if self._broken.is_set():
            return False
        self._outbox.put(answer)
        return True

    def finish(self) -> None:
        """Wait until every answer is written."""
        self._outbox.join()
        self._outbox.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (answer := self._outbox.get()) is not None:
            try:
                if not self._broken.is_set():
                    _write_answer(self._stream, answer)
            except OSError:  # the importing process closed its end: it no longer listens
                self._broken.set()
            except BaseException:  # a bug: said on stderr; the worker ends, the import with it
                import traceback

                traceback.print_exc()
                self._broken.set()
            finally:
                del answer
                self._outbox.task_done()


#: An answer on a worker's stdout: this header (a mark, the pickle's size, the number of
#: out-of-band buffers), each buffer's size, the pickle, then the buffers. Arrow's and
#: NumPy's buffers travel out of band (pickle protocol 5): written from where they are and
#: read into their final place, not copied into and out of a pickle. A stream that does not
#: start with the mark (a stray write) is refused at once, not read as a length.
_HEAD = struct.Struct("<8sQI")
_MARK = b"nxsplit1"
_SIZE = struct.Struct("<Q")
#: Far above any answer (a block is 16 MiB of text), far below a length read from garbage.
_MAX_ANSWER = 1 << 33


def _write_answer(stream: Any, value: Any) -> None:
    import pickle

    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    views = [buffer.raw() for buffer in buffers]
    sizes = b"".join(_SIZE.pack(view.nbytes) for view in views)
    stream.write(_HEAD.pack(_MARK, len(data), len(views)) + sizes)
    stream.write(data)
    for view in views:
        stream.write(view)
    stream.flush()


def _read_answer(stream: Any) -> Any:
    """Read one ``_write_answer`` answer.

    Raises:
        EOFError: the stream ended (the worker is gone).
        ValueError: not an answer (garbled).
    """
    import pickle

    mark, size, count = _HEAD.unpack(_read_exactly(stream, _HEAD.size))
    if mark != _MARK or size > _MAX_ANSWER or count * _SIZE.size > _MAX_ANSWER:
        raise ValueError("not a worker's answer")
    sizes = [n for (n,) in _SIZE.iter_unpack(_read_exactly(stream, count * _SIZE.size))]
    if sum(sizes) > _MAX_ANSWER:
        raise ValueError("not a worker's answer")
    data = _read_exactly(stream, size)
    buffers = []
    for n in sizes:
        buffer = bytearray(n)
        view = memoryview(buffer)
        while view:
            got = stream.readinto(view)
            if not got:
                raise EOFError
            view = view[got:]
        buffers.append(buffer)
    return pickle.loads(data, buffers=buffers)  # noqa: S301 (our own worker's answer)


def _read_exactly(stream: Any, size: int) -> Any:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError
    return data


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
