"""A compute process of the app (see `dynsim.gui.compute`): `python -P -m
dynsim.gui.compute_child FD [PLUGIN_DIR ...]`.

It loads the plugins as the window did, answers `ready` on the socket FD, then runs one job
at a time: ("run", job, kind, spec, state, extra) -> "progress"/"part" messages, then
"done" or "error"; ("cancel", job) cancels it; ("quit",) or a closed socket ends it. No Qt
is imported here.
"""

from __future__ import annotations

import os
import queue
import socket
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from dynsim.core.cancel import CancelToken
from dynsim.core.errors import DynsimError
from dynsim.core.models import load_model
from dynsim.core.plugins import active_plugins, load_plugins
from dynsim.core.system import System
from dynsim.gui import tasks
from dynsim.gui.compute import SystemMismatch, SystemSpec, dumps, loads, probe

NICENESS = 5
"""Where `SCHED_IDLE` is not available, a compute process lowers its priority this much."""
PART_EVERY = 0.1
"""Seconds between two partial results sent while a job grows."""


class Child:
    """The job loop of one compute process."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.requests: queue.Queue[tuple[Any, ...] | None] = queue.Queue()
        self.current: tuple[int, CancelToken] | None = None
        self.lock = threading.Lock()
        self.systems: dict[Any, System] = {}
        self.cancelled: set[int] = set()

    def listen(self) -> None:
        """Read messages: jobs are queued, cancels applied at once."""
        try:
            while True:
                message = self.conn.recv()
                if message[0] == "cancel":
                    with self.lock:
                        if self.current is not None and self.current[0] == message[1]:
                            self.current[1].cancel()
                        else:  # still queued: cancelled as it starts
                            self.cancelled.add(message[1])
                elif message[0] == "run":
                    self.requests.put(message)
                else:
                    break
        except (EOFError, OSError):
            pass
        self.requests.put(None)

    def serve(self) -> None:
        """Run jobs until told to quit."""
        threading.Thread(target=self.listen, daemon=True).start()
        self.send(("ready",))
        while (request := self.requests.get()) is not None:
            _, job, kind, spec_bytes, state_bytes, extra = request
            token = CancelToken()
            with self.lock:
                self.current = (job, token)
                if job in self.cancelled:
                    token.cancel()
                self.cancelled = {j for j in self.cancelled if j > job}  # (ids only grow)
            try:
                self.run(job, kind, loads(spec_bytes, None), state_bytes, extra, token)  # type: ignore[arg-type]
            except Exception as exc:  # sent to the window, which reports it
                self.send(("error", job, _portable(exc)))
            finally:
                with self.lock:
                    self.current = None

    def send(self, message: tuple[Any, ...]) -> None:
        try:
            self.conn.send(message)
        except OSError:
            sys.exit(0)

    def run(self, job: int, kind: str, spec: SystemSpec, state_bytes: bytes,
            extra: dict[str, Any], token: CancelToken) -> None:
        try:
            system = self.system(spec)
        except DynsimError as exc:
            raise SystemMismatch(f"the compute process cannot build the system: {exc}") \
                from None
        state = loads(state_bytes, system)
        if probe(system, state.params) != spec[-1]:
            raise SystemMismatch(f"the compute process's '{system.name}' is not the window's")
        last = [0.0]

        def progress(fraction: float) -> None:
            now = time.monotonic()
            if now - last[0] > PART_EVERY / 2:
                last[0] = now
                self.send(("progress", job, fraction))

        result = tasks.run_task(kind, state, token, progress, **extra)
        if not isinstance(result, tasks.Growing):
            self.send(("done", job, dumps(result)))
            return
        sent, final = time.monotonic(), None  # a quick run sends only its end
        for final in result.parts:
            now = time.monotonic()
            if now - sent >= PART_EVERY:
                sent = now
                self.send(("part", job, dumps(final)))
        self.send(("done", job, dumps(final)))

    def system(self, spec: SystemSpec) -> System:
        """The system `spec` names (built once per spec)."""
        key = repr(spec[:-1])
        if key not in self.systems:
            kind = spec[0]
            if kind == "name":
                built = active_plugins().get("systems", spec[1])
            elif kind == "model":
                built = load_model(spec[1])
            else:
                source, name, defaults = spec[1], spec[2], spec[3]
                built = source.build(name, defaults)
            self.systems[key] = built
        return self.systems[key]


def _portable(exc: BaseException) -> bytes:
    """`exc` pickled, or a `DynsimError` with its message if it does not pickle."""
    try:
        data = dumps(exc)
        loads(data, None)  # type: ignore[arg-type]
        return data
    except Exception:
        return dumps(DynsimError(f"{type(exc).__name__}: {exc}"))


def yield_to_the_window() -> None:
    """Run this process under `SCHED_IDLE` (Linux), else at a lower priority: the GUI
    thread, which only draws, then never waits for a core behind the jobs it asked for.

    A task waking under the normal policy preempts a `SCHED_IDLE` one at once, where nice
    only shares the core by weight. bench_app on 2 cores, 6 runs each, alternated: the
    longest stall of a slider drag 7.1-12.0 ms (nice 5: 6.6-16.1), a parameter change's
    median 33-37 ms (nice 5: 32-47)."""
    try:  # per thread on Linux: the ones running now (numpy's), later ones inherit it
        for thread in os.listdir("/proc/self/task"):
            os.sched_setscheduler(int(thread), os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or refused
        os.nice(NICENESS)


def main(argv: list[str]) -> int:
    """Serve jobs on the socket whose descriptor is argv[0]."""
    conn = Connection(socket.socket(fileno=int(argv[0])).detach())
    yield_to_the_window()
    load_plugins(argv[1:])
    Child(conn).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

