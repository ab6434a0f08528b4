"""PyTorch work of a process runs in one thread, whoever asks for it."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.sentiment import torch_thread


def test_every_caller_runs_in_the_same_thread_and_gets_its_own_result() -> None:
    def whoami(n: int) -> tuple[int, int]:
        return n, threading.get_ident()

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda n: torch_thread.run(whoami, n), range(60)))

    assert [n for n, _ in results] == list(range(60))
    [ident] = {ident for _, ident in results}
    assert ident != threading.get_ident()
    assert not torch_thread.is_torch_thread()


def test_an_error_reaches_the_caller_and_the_thread_keeps_serving() -> None:
    def fail() -> None:
        raise ValueError("bad batch")

    with pytest.raises(ValueError, match="bad batch"):
        torch_thread.run(fail)
    assert torch_thread.run(lambda: 41 + 1) == 42


def test_a_call_from_the_torch_thread_runs_at_once_rather_than_waiting_for_itself() -> None:
    @torch_thread.runs_in_torch_thread
    def outer() -> tuple[bool, int]:
        return torch_thread.is_torch_thread(), torch_thread.run(lambda: 7)

    assert outer() == (True, 7)


def test_ctrl_c_stops_long_work_at_its_next_step_before_the_caller_goes_on() -> None:
    steps: list[int] = []

    def long_work() -> None:  # a training loop, checking between steps
        for step in range(1000):
            torch_thread.check_cancelled()
            steps.append(step)
            time.sleep(0.01)

    # Ctrl-C as a terminal delivers it, whatever handler earlier code in this process left.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            torch_thread.run(long_work)
    finally:
        signal.signal(signal.SIGINT, previous)
    stopped_at = len(steps)
    time.sleep(0.1)

    # It stopped early, and had stopped before the interrupted caller went on.
    assert 0 < stopped_at < 1000
    assert len(steps) == stopped_at

    # The thread keeps serving, and the next work is not cancelled.
    def next_work() -> int:
        torch_thread.check_cancelled()
        return 5

    assert torch_thread.run(next_work) == 5
