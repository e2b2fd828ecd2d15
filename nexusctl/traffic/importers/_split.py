"""Parse the blocks of a large text file in worker processes, handing the chunks back in order.

A JSON Lines import spends about half its CPU in Arrow's JSON parser. For a file of at least
``SPLIT_MIN_BYTES``, this process cuts the file into the very blocks the single-process
reader would (``iter_line_spans``: whole lines, each block carrying its byte offset and first
line number), and a worker reads and parses them while the import pipeline converts, checks,
writes and hashes the chunks, in file order, exactly as it would the local reader's. So the
output is the same file, byte for byte, and problems name the same lines.

When the worker falls behind (its answer was not there when the pipeline asked for it), this
process parses the next block itself, in a thread, while the pipeline works through the
worker's blocks before it: the time it would otherwise spend waiting goes into parsing. One
block at a time is parsed here, and each waits behind at least one of the worker's, so at
most ``_AHEAD`` + 1 parsed chunks wait here (~10 MiB each).

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
Ctrl-C reaches the importing process only, which stops them. The worker's side and the wire
format are in ``_splitwork``.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn, cast

from nexusctl.errors import EnvironmentError_, NexusError
from nexusctl.traffic.importers._raw import LineBlock, RawTraffic
from nexusctl.traffic.importers._splitwork import BlockParser, Failed, parse_block, read_answer

#: Smaller files are parsed in this process: starting a worker (a fresh interpreter that
#: imports pyarrow) costs 0.3-0.4 s of CPU, about what it saves on a file of this size.
SPLIT_MIN_BYTES = 64 << 20
#: At most this many workers. Each costs ~135 MiB (an interpreter with pyarrow, one block and
#: its parse), and one is enough on two cores: a worker parses 1M rows of 425 bytes in ~3 s
#: of CPU, about what this process spends converting, checking, writing and hashing them (its
#: own threads), and this process parses blocks itself when it has time to spare.
MAX_WORKERS = 1
#: Blocks queued per worker: tasks are a few bytes each, and a worker holds at most two parsed
#: chunks whatever is queued (one being sent, one parsed), so this only keeps it busy.
_AHEAD = 3
#: A worker whose answer took longer than this to start arriving is behind: its next block
#: may be parsed here. An answer already waiting in the pipe arrives in microseconds.
_BEHIND_S = 0.002


def split_workers(size: int) -> int:
    """How many worker processes to parse a file of ``size`` bytes with (0: parse here)."""
    import sys

    if size < SPLIT_MIN_BYTES or not sys.executable or os.name != "posix":
        return 0  # workers read with os.pread and run in their own process group (POSIX)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    # This process converts, checks and writes the chunks meanwhile: it keeps a core busy.
    return max(0, min((cpus or 1) - 1, MAX_WORKERS))


#: The peak resident memory (KiB) of each worker of the last split parse in this process (empty
#: if it did not run to its end): ``bench/traffic.py`` adds them to the importer's own peak.
WORKER_PEAKS_KIB: list[int] = []
#: How many blocks of the last split parse in this process were parsed here, not by a worker.
LOCAL_BLOCKS: list[int] = [0]


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
    """The parsed chunks of a file, in file order, from worker processes (and this one).

    Worker blocks go to worker i mod ``workers``, which answers in the order it was asked, so
    the chunks are read back in file order; ``_AHEAD`` blocks are queued per worker. When the
    last answer was late, the next block is parsed in this process's thread instead, and
    queued in its place.

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
        self._queued: deque[_Worker | Future[Any] | NexusError] = deque()
        self._source: Iterator[LineBlock] | None = blocks
        self._sent = 0
        self._asked = 0  # blocks queued on the workers, not yet answered
        self._behind = False
        self._local: ThreadPoolExecutor | None = None
        self._last_here: Future[Any] | None = None  # the last block parsed here
        self._fd: int | None = None
        self._open = True
        LOCAL_BLOCKS[0] = 0
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
            if isinstance(head, Future):
                result = head.result()
            else:
                self._asked -= 1
                result, waited = head.receive()
                self._behind = waited > _BEHIND_S
            if isinstance(result, Failed):
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
        """Queue blocks until ``_AHEAD`` wait per worker (or the blocks or an error end).

        A block goes to this process's thread instead when the worker is behind, has a block
        of its own queued before it (so it keeps working), and the thread is free.
        """
        workers = len(self._pool)
        while self._source is not None and self._asked < workers * _AHEAD:
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
            if self._behind and self._asked and self._here_idle():
                self._last_here = self._parse_here(block)
                self._queued.append(self._last_here)
                continue
            worker = self._pool[self._sent % workers]
            self._sent += 1
            worker.send(
                (self._parse, self._path, block.offset, block.size, block.first_line, block.lines)
            )
            self._queued.append(worker)
            self._asked += 1

    def _here_idle(self) -> bool:
        return self._last_here is None or self._last_here.done()

    def _parse_here(self, block: LineBlock) -> Future[Any]:
        if self._local is None:
            self._local = ThreadPoolExecutor(max_workers=1, thread_name_prefix="split-parse")
            self._fd = os.open(self._path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        LOCAL_BLOCKS[0] += 1
        return self._local.submit(
            parse_block,
            self._parse,
            self._path,
            block.offset,
            block.size,
            block.first_line,
            block.lines,
            self._fd,
        )

    def _stop(self, *, finished: bool) -> None:
        if not self._open:
            return
        self._open = False
        self._source = None
        self._queued.clear()
        peaks = [worker.stop(finished) for worker in self._pool]
        if self._local is not None:
            self._local.shutdown(wait=True, cancel_futures=True)  # a parse running ends first
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        WORKER_PEAKS_KIB[:] = peaks if finished else []


class _Worker:
    """One worker process: tasks go to its stdin (pickles), answers come back on its stdout
    (``_splitwork.write_answer``).
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

    def receive(self) -> tuple[Any, float]:
        """The next answer, and how long its first byte took to come (the worker's lag)."""
        import pickle

        stream = cast(io.BufferedReader, self._process.stdout)  # Popen's default buffering
        try:
            start = time.monotonic()
            stream.peek(1)  # returns once the answer starts (or the stream ends)
            waited = time.monotonic() - start
            return read_answer(stream), waited
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
                peak = int(read_answer(process.stdout))
        else:
            process.kill()  # it may be blocked writing an answer nobody will read
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        process.wait()
        return peak


_SERVE = "from nexusctl.traffic.importers._splitwork import serve; serve()"
