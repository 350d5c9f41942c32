"""One worker thread with a deep native stack, where all WASM executes.

A WASM message that calls another nests native frames (wasmtime's, ctypes', Python's);
each nested instance may use ``MAX_WASM_STACK_BYTES`` of its own, so 1024 nested
messages need far more than a main thread's 8 MiB. A WASM message started while another
is running on the same (ordinary) thread moves to this thread, its caller waiting, and
everything it calls runs there. Handing over costs ~20-400 µs (a thread wake-up), so the
first WASM message of a transaction stays where it is.

wasmtime-py keeps a host function's exception in a process-wide variable until the call
unwinds; WASM therefore never runs on two threads at once here (the hand-over blocks the
caller), and the node executes transactions on one thread.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from vm.wasm.config import WASM_THREAD_STACK_BYTES

T = TypeVar("T")


class _Job:
    __slots__ = ("fn", "args", "done", "result", "error")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


_lock = threading.Lock()
_jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
_worker: threading.Thread | None = None


def _serve() -> None:
    while True:
        job = _jobs.get()
        try:
            job.result = job.fn(*job.args)
        except BaseException as exc:  # handed back to the waiting thread, which re-raises
            job.error = exc
        finally:
            job.done.set()


def _get_worker() -> threading.Thread:
    global _worker
    with _lock:
        if _worker is None or not _worker.is_alive():
            previous = threading.stack_size(WASM_THREAD_STACK_BYTES)
            try:
                _worker = threading.Thread(target=_serve, name="wasm-executor", daemon=True)
                _worker.start()
            finally:
                threading.stack_size(previous)
        return _worker


def is_wasm_thread() -> bool:
    return _worker is not None and threading.current_thread() is _worker


def run_on_wasm_stack(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` on the WASM thread (directly if already there) and return its result."""
    worker = _worker
    if worker is not None and threading.current_thread() is worker:
        return fn(*args)
    worker = _get_worker()
    job = _Job(fn, args)
    _jobs.put(job)
    job.done.wait()
    if job.error is not None:
        raise job.error
    return job.result
