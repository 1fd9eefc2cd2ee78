"""The job runner: newest request wins, stale results are dropped, results arrive on the
GUI thread, and errors reach the error handler."""

from __future__ import annotations

import threading
import time

from PySide6 import QtWidgets

from dynsim.gui.jobs import JobRunner


def _wait(runner: JobRunner, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while runner.busy:
        assert time.monotonic() < deadline, "jobs did not finish"
        QtWidgets.QApplication.processEvents()
        time.sleep(0.005)
    QtWidgets.QApplication.processEvents()


def test_only_the_running_and_the_newest_request_run_and_only_the_newest_is_delivered(qapp):
    runner = JobRunner()
    started, results, threads = [], [], []

    def work(n):
        def run(token, progress):
            started.append(n)
            deadline = time.monotonic() + 2.0
            while not token.cancelled and time.monotonic() < deadline:
                time.sleep(0.005)
            return n
        return run

    def deliver(value):
        results.append(value)
        threads.append(threading.current_thread() is threading.main_thread())

    for n in range(5):  # a dragged slider: five requests before the first one ends
        runner.submit("field", work(n), deliver, lambda e: None)
        time.sleep(0.02)
    _wait(runner)
    assert started == [0, 4]  # 1..3 were replaced while waiting
    assert results == [4] and threads == [True]


def test_errors_reach_the_error_handler_and_growing_jobs_deliver_every_part(qapp):
    runner = JobRunner()
    errors, parts = [], []

    def broken(token, progress):
        raise ValueError("rhs exploded")

    def growing(token, progress):
        for k in range(3):
            progress((k + 1) / 3)
            yield k

    runner.submit("a", broken, lambda v: None, errors.append)
    runner.submit("b", growing, parts.append, errors.append, growing=True)
    _wait(runner)
    assert [str(e) for e in errors] == ["rhs exploded"] and parts == [0, 1, 2]
    assert runner.shutdown(5.0)
    runner.submit("c", growing, parts.append, errors.append, growing=True)
    assert not runner.busy  # a closed runner takes no new jobs
