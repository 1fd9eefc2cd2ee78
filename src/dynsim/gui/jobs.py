"""Jobs: the window's computations, run in worker threads, newest request wins.

Each job has a key (one per layer: "field", "trajectories", ...). Submitting a key whose job
is still running queues the new request; only the newest queued request of a key runs
next, so a dragged slider never piles up work. The stale running job is cancelled (its
`CancelToken`; its result is dropped when it arrives) once it is older than the runner's
`patience` (`LIVE_PATIENCE`); a younger one finishes and is drawn. So while a slider
moves every frame, each layer shows the newest complete picture the workers could compute
(cancelling every job at the next mouse event would show none until the slider stops),
and a slow job is abandoned for the newest request. Results are delivered on the GUI
thread, and only if still current. Workers are superqt's (`FunctionWorker`,
`GeneratorWorker` for results that grow).

The jobs run on the runner's own pool with one thread by default: the layers'
computations are Python loops over small numpy arrays that hold the GIL, and two of them
in parallel slowed each other more than twofold (GIL hand-offs), so one thread finishes
the whole picture sooner; the GUI thread stays free either way. The window allows two
while its jobs run in two compute processes (`dynsim.gui.compute`), which share no GIL.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from PySide6 import QtCore
from superqt.utils import FunctionWorker, GeneratorWorker

from dynsim.core.cancel import CancelToken

LIVE_PATIENCE = 0.3
"""Seconds after its submission during which a superseded job is left to finish."""
RELEASE_AFTER = 1.0
"""Seconds a finished job's worker is kept before the GUI thread lets it go.

Its `finished` signal reaches the GUI thread while the pool's thread is still returning
from the worker's `run()` and deleting it; a worker whose last reference went then (the
job and its worker refer to each other, so Python's garbage collector frees them at any
moment) crashed the app in libshiboken, once in ten 2 s slider drags here. Kept this
long, then released with the cycle broken, a worker is freed in the GUI thread long
after its thread let go of it."""

Work = Callable[[CancelToken, Callable[[float], None]], Any]
"""A job: called in a worker with its cancel token and a progress(fraction) callback;
returns the result, or (for a growing job) an iterator of results, the final one last."""


@dataclass
class _Request:
    work: Work
    on_result: Callable[[Any], None]
    on_error: Callable[[BaseException], None]
    growing: bool
    label: str


class _Running(QtCore.QObject):
    """A started request: its worker, token and progress. It lives on the GUI thread, so the
    worker's signals reach its slots there (queued), never on the worker's thread."""

    def __init__(self, runner: JobRunner, key: str, request: _Request) -> None:
        super().__init__(runner)
        self.runner, self.key, self.request = runner, key, request
        self.token = CancelToken()
        self.progress = 0.0
        self.started = time.monotonic()
        self.worker: Any = (GeneratorWorker(self._generate) if request.growing
                            else FunctionWorker(self._compute))
        (self.worker.yielded if request.growing else self.worker.returned).connect(self.deliver)
        self.worker.errored.connect(self.failed)
        self.worker.finished.connect(self.done)

    def _report(self, fraction: float) -> None:
        self.progress = fraction

    def _compute(self) -> Any:
        return self.request.work(self.token, self._report)

    def _generate(self) -> Iterator[Any]:
        yield from self.request.work(self.token, self._report)

    def _current(self) -> bool:
        return self.runner._running.get(self.key) is self and not self.token.cancelled

    @QtCore.Slot(object)
    def deliver(self, value: Any) -> None:
        if self._current():
            self.request.on_result(value)

    @QtCore.Slot(object)
    def failed(self, error: BaseException) -> None:
        if self._current():
            self.request.on_error(error)

    @QtCore.Slot()
    def done(self) -> None:
        self.runner._finished(self.key, self)
        self.deleteLater()

    def release(self) -> None:
        """Let the worker go (see `RELEASE_AFTER`): it refers to this job, not back."""
        self.worker = None

    def stop(self) -> None:
        """Ask the job to stop (its token); whatever it still delivers is dropped.

        The worker is not told to quit: superqt would then leave a growing job's generator
        suspended, never finished, and a job holding a compute process would keep it. Jobs
        watch their token and end soon after it is cancelled.
        """
        self.token.cancel()


class JobRunner(QtCore.QObject):
    """Runs keyed jobs in the thread pool; see the module docstring.

    `activity` is emitted whenever the set of running jobs changes.
    """

    activity = QtCore.Signal()

    def __init__(self, parent: QtCore.QObject | None = None, threads: int = 1,
                 patience: float = LIVE_PATIENCE) -> None:
        super().__init__(parent)
        self.patience = patience
        self.pool = QtCore.QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._running: dict[str, _Running] = {}
        self._queued: dict[str, _Request] = {}
        self._ended: deque[tuple[float, _Running]] = deque()
        self._closed = False

    def submit(self, key: str, work: Work, on_result: Callable[[Any], None],
               on_error: Callable[[BaseException], None], *, growing: bool = False,
               label: str = "") -> None:
        """Run `work` for `key`, replacing any older request of the same key (the running
        one is cancelled if older than `patience`, else left to finish).

        `on_result` gets each result (each partial one too when `growing`); `on_error` the
        exception a job raised. Both run on the GUI thread.
        """
        if self._closed:
            return
        request = _Request(work, on_result, on_error, growing, label or key)
        running = self._running.get(key)
        if running is not None:
            if time.monotonic() - running.started >= self.patience:
                running.stop()
            self._queued[key] = request
            return
        self._start(key, request)

    def _start(self, key: str, request: _Request) -> None:
        running = _Running(self, key, request)
        self._running[key] = running
        self.pool.start(running.worker)
        self.activity.emit()

    def _finished(self, key: str, running: _Running) -> None:
        now = time.monotonic()
        self._ended.append((now, running))
        while self._ended and now - self._ended[0][0] >= RELEASE_AFTER:
            self._ended.popleft()[1].release()
        if self._running.get(key) is running:
            del self._running[key]
        queued = self._queued.pop(key, None)
        if queued is not None and not self._closed:
            self._start(key, queued)
        self.activity.emit()

    def has_queued(self, key: str) -> bool:
        """Whether a newer request of `key` waits for its running job to end."""
        return key in self._queued

    @property
    def busy(self) -> bool:
        """Whether any job is running or queued."""
        return bool(self._running or self._queued)

    def status(self) -> list[tuple[str, float, float]]:
        """(label, progress fraction, seconds running) of every running job not cancelled."""
        now = time.monotonic()
        return [(r.request.label, r.progress, now - r.started) for r in self._running.values()
                if not r.token.cancelled]

    def cancel(self, key: str | None = None) -> None:
        """Cancel the job of `key` (None: every job); their results are dropped."""
        for k in list(self._running) if key is None else [key]:
            self._queued.pop(k, None)
            running = self._running.get(k)
            if running is not None:
                running.stop()

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel everything, refuse new jobs, and wait for the workers to end.

        Returns False if some worker was still running after `timeout` seconds.
        """
        self._closed = True
        self.cancel()
        if not self.pool.waitForDone(int(timeout * 1000)):
            return False
        while self._ended:  # every thread has returned from its worker
            self._ended.popleft()[1].release()
        return True
