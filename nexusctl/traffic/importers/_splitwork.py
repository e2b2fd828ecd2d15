"""The worker side of a split parse (``_split``), and the wire both sides speak.

A worker is a fresh interpreter that reads tasks (parser, path, offset, length, first line,
line count) as pickles on its stdin, parses each block of the file (``parse_block``) and
writes each chunk back on its stdout (``write_answer``), in the order asked. The importing
process reads the answers (``read_answer``) and, when the worker falls behind, parses some
blocks itself with the same ``parse_block``: a chunk is the same whichever side parsed it.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from nexusctl.errors import NexusError, TrafficError
from nexusctl.traffic.importers._raw import RawTraffic

#: Parse one block: (path, bytes, first line number, line count) -> chunk.
BlockParser = Callable[[Path, bytes, int, int], RawTraffic]


@dataclass(frozen=True)
class Failed:
    """A parse error, carried back as data (an exception's pickle drops its hint).

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


def serve() -> None:
    """A worker's loop: read (parser, path, offset, length, first line, lines) tasks on stdin,
    write each parsed chunk (or ``Failed``) on stdout; at end of input, its peak memory.
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
        if not sender.send(parse_block(parse, path, offset, length, first_line, lines)):
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
                    write_answer(self._stream, answer)
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


def write_answer(stream: Any, value: Any) -> None:
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


def read_answer(stream: Any) -> Any:
    """Read one ``write_answer`` answer.

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


def parse_block(
    parse: BlockParser,
    path: Path,
    offset: int,
    length: int,
    first_line: int,
    lines: int,
    fd: int | None = None,
) -> RawTraffic | Failed:
    """Read ``length`` bytes at ``offset`` of ``path`` and parse them.

    ``fd``: the file, opened by the caller (the importing process); a worker leaves it None
    and keeps the file open until it exits.
    """
    try:
        if fd is None:
            handle = _OPEN.get(path)
            if handle is None:
                handle = _OPEN[path] = path.open("rb")
            fd = handle.fileno()
        data = os.pread(fd, length, offset)
        if len(data) != length or not (data.isascii() or _is_utf8(data)):
            # This process read and checked these bytes a moment ago; they differ now.
            raise TrafficError(f"{path}:{first_line}: the file changed while it was imported")
        return parse(path, data, first_line, lines)
    except NexusError as exc:
        return Failed(type(exc), exc.message, exc.hint)
    except OSError as exc:
        return Failed(TrafficError, f"{path}: cannot read: {exc.strerror or exc}", None)
    except Exception as exc:  # a bug: reported by the importing process, not a lost worker
        return Failed(None, f"{type(exc).__name__}: {exc}", None)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
