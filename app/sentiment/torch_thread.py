"""Every PyTorch computation of a process runs in one thread: this module's.

PyTorch runs its CPU kernels in OpenMP, and every thread that runs them gets an OpenMP team of
its own. On a 2-core host with AMX, bf16 scoring ran at 64-70 reviews/s while a single thread
of the process ran PyTorch, and at 51-55 from either thread once a second one had run it too
(fp32 was not affected; measured in one process, see README "Scoring engine"). A server runs
the model on behalf of several threads (the start-up measurement, the scoring worker, the
dynamic batcher, a promotion), so each hands its PyTorch work to this thread and waits for the
result.

Work is handed over in small pieces (one encoder batch, one training run), first come first
served, so that a post scored through the batcher waits for at most one batch of background
scoring, not for the whole of it. A call made from this thread itself runs at once.

Ctrl-C reaches the waiting caller, not this thread: the caller then asks long work to stop
(`check_cancelled`, which training calls at every step and this module at every nested call)
and waits for the thread to leave PyTorch before it re-raises, since a process that exits while
a thread is inside PyTorch aborts.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_Work = tuple[Callable[[], Any], "Future[Any]"]

_lock = threading.Lock()
_queue: queue.SimpleQueue[_Work] = queue.SimpleQueue()
_thread: threading.Thread | None = None
_cancel = threading.Event()


class Cancelled(Exception):  # noqa: N818 (what happened, not an error)
    """The caller waiting for this work was interrupted (Ctrl-C)."""


def run(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)`, computed in the PyTorch thread; its exception re-raised
    here."""
    if is_torch_thread():
        check_cancelled()
        return function(*args, **kwargs)
    future: Future[T] = Future()
    _queue.put((functools.partial(function, *args, **kwargs), future))
    _start()
    try:
        return future.result()
    except KeyboardInterrupt:
        if not future.cancel():  # already running: stop it at its next step, and wait
            _cancel.set()
            try:
                future.exception()
            except CancelledError:
                pass
            finally:
                _cancel.clear()
        raise


def check_cancelled() -> None:
    """Raise Cancelled if the caller of the work in progress was interrupted: long work in the
    PyTorch thread (a training loop) calls this between steps."""
    if _cancel.is_set() and is_torch_thread():
        raise Cancelled("interrupted")


def runs_in_torch_thread(function: Callable[P, T]) -> Callable[P, T]:
    """A decorator: the function always runs in the PyTorch thread."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return run(function, *args, **kwargs)

    return wrapper


def is_torch_thread() -> bool:
    """Whether the caller is the PyTorch thread."""
    return threading.current_thread() is _thread


def _start() -> None:
    global _thread
    with _lock:
        if _thread is None:
            # A daemon, so that Ctrl-C during a long computation ends the process rather than
            # waiting for the computation to finish.
            _thread = threading.Thread(target=_serve, name="torch", daemon=True)
            _thread.start()


def _serve() -> None:
    while True:
        work, future = _queue.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            result = work()
        except BaseException as error:  # handed to the caller, who re-raises it
            future.set_exception(error)
        else:
            future.set_result(result)
        del work, future  # drop references to the arguments (batches, models) at once


def _after_fork() -> None:
    # A forked child has no copy of the thread: it starts its own on first use.
    global _thread, _lock, _queue
    _thread = None
    _lock = threading.Lock()
    _queue = queue.SimpleQueue()


os.register_at_fork(after_in_child=_after_fork)
