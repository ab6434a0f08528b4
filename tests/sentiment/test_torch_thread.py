"""PyTorch work of a process runs in one thread, whoever asks for it."""

from __future__ import annotations

import threading
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
