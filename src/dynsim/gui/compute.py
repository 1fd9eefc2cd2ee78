"""Compute processes: where the window's layer jobs run, so that they never hold the GUI
thread's interpreter lock.

A job in a worker thread of the GUI process shares the GIL with the GUI thread: while a
trajectory job runs, every repaint and every drawn result waits for it at each hand-over,
and a plugin whose C code holds the GIL freezes the window outright. So the window's jobs
are sent to `COMPUTE_PROCESSES` child processes (`dynsim.gui.compute_child`, started once
per Python session, in the background) and the worker threads only wait on pipes.

A child rebuilds the system from what names it: a registered system (by name), typed
equations (their text) or a model file (its path); a probe (the rhs at one point) checks
that it is the same system as the window's. A state the children cannot rebuild (a
`System` made in a script, a plugin registered directly) is computed in the worker thread,
as are all jobs while the children start or when they cannot be started (no POSIX pipes).
Results come back pickled; the `System` inside them is the window's own object again.
"""

from __future__ import annotations

import atexit
import io
import os
import pickle
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from dynsim.core.cancel import CancelToken
from dynsim.core.errors import DynsimError
from dynsim.core.plugins import active_plugins
from dynsim.core.system import System
from dynsim.gui.model import ExplorerState

COMPUTE_PROCESSES = 2
"""Child processes: one per core here (2), so two layers are computed at once."""
POLL_SECONDS = 0.02
"""How often a waiting job checks its cancel token."""
STOP_SECONDS = 2.0
"""How long a cancelled job may take to stop before its child process is killed."""
PROBE_T = 0.3141592653589793
"""The time at which parent and child compare the rhs of a system (with `_probe_state`)."""

SystemSpec = tuple[Any, ...]
"""How a child rebuilds a system: ("name", name), ("equations", source, name, defaults) or
("model", path), plus the probe value last."""


class ComputeError(DynsimError):
    """A compute process died or answered something unexpected."""


class SystemMismatch(DynsimError):
    """A child's system is not the window's (another plugin set or file): computed here."""


# -- pickling: systems travel by reference ------------------------------------------------


def _mapping(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(items)


class _Pickler(pickle.Pickler):
    """Pickles `System` objects as a reference (rebuilt or restored on the other side)."""

    dispatch_table: ClassVar[dict[type, Callable[[Any], Any]]] = {
        MappingProxyType: lambda m: (_mapping, (dict(m),))}

    def persistent_id(self, obj: Any) -> Any:
        return "system" if isinstance(obj, System) else None


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, system: System) -> None:
        super().__init__(io.BytesIO(data))
        self.system = system

    def persistent_load(self, pid: Any) -> Any:
        if pid != "system":
            raise pickle.UnpicklingError(f"unknown reference {pid!r}")
        return self.system


def dumps(obj: Any) -> bytes:
    """`obj` pickled with every `System` in it as a reference."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def loads(data: bytes, system: System) -> Any:
    """What `dumps` pickled, with `system` for each `System` reference."""
    return _Unpickler(data, system).load()


# -- which systems a child can rebuild ----------------------------------------------------


def _probe_state(system: System) -> np.ndarray:
    return np.linspace(0.37, 1.13, system.dimension)[None, :]


def probe(system: System, params: Any) -> list[float] | None:
    """The rhs of `system` at a fixed point (None if it fails there)."""
    try:
        value = np.asarray(system.rhs(PROBE_T, _probe_state(system), params), dtype=float)
    except Exception:
        return None
    return value.reshape(-1).tolist()


def system_reference(state: ExplorerState) -> tuple[Any, ...] | None:
    """What names `state.system` for a child process (no probe; no rhs call), or None."""
    system = state.system
    if state.model:
        return ("model", os.path.abspath(state.model))
    if state.equations is not None:
        defaults = {name: p.default for name, p in system.params.items()}
        return ("equations", state.equations, system.name, defaults)
    plugins = active_plugins()
    entry = plugins.entries("systems").get(system.name)
    direct = {r.name for r in plugins.records if r.origin == "direct"}
    if entry is not None and entry.obj is system and entry.plugin not in direct:
        return ("name", system.name)
    return None


def system_spec(state: ExplorerState) -> SystemSpec | None:
    """How a child process rebuilds `state.system` (its reference and the probe), or None
    if it cannot."""
    reference = system_reference(state)
    value = probe(state.system, state.params) if reference is not None else None
    return None if value is None else (*reference, value)  # type: ignore[misc]


# -- the parent's side ----------------------------------------------------------------------


class ComputeProcess:
    """One child process and the pipe to it; used by one job at a time."""

    def __init__(self, plugin_dirs: list[str]) -> None:
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-m", "dynsim.gui.compute_child", str(theirs.fileno()),
             *plugin_dirs],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        theirs.close()
        self.conn = Connection(ours.detach())
        self.ready = False
        self.jobs = 0

    def wait_ready(self, timeout: float) -> bool:
        """Wait for the child's hello; False if it did not come."""
        try:
            if not self.ready and self.conn.poll(timeout):
                self.ready = self.conn.recv() == ("ready",)
        except (EOFError, OSError):  # it died starting (its error is on stderr)
            self.ready = False
        return self.ready

    def alive(self) -> bool:
        return self.process.poll() is None

    def run(self, kind: str, state: ExplorerState, spec: SystemSpec, token: CancelToken,
            progress: Callable[[float], None], extra: dict[str, Any]) -> Iterator[Any]:
        """Send one job; yield its partial results and its final one (an exception in the
        child is raised here)."""
        self.jobs += 1
        job = self.jobs
        finished = False
        cancel_sent = 0.0
        try:
            self.conn.send(("run", job, kind, dumps(spec), dumps(state), extra))
            while True:
                if token.cancelled and not cancel_sent:
                    self.conn.send(("cancel", job))
                    cancel_sent = time.monotonic()
                if cancel_sent and time.monotonic() - cancel_sent > STOP_SECONDS:
                    self.kill()
                    raise ComputeError(f"{kind} did not stop when cancelled; its process "
                                       "was ended")
                if not self.conn.poll(POLL_SECONDS):
                    if not self.alive():
                        raise self._ended(kind)
                    continue
                message = self.conn.recv()
                what, number = message[0], message[1]
                if number != job:
                    continue  # the end of an abandoned job
                if what == "progress":
                    progress(message[2])
                elif what == "part":
                    yield loads(message[2], state.system)
                elif what == "done":
                    finished = True
                    yield loads(message[2], state.system)
                    return
                elif what == "error":
                    finished = True
                    raise loads(message[2], state.system)
        except (EOFError, OSError):
            raise self._ended(kind) from None
        finally:
            if not finished and self.alive():
                self._abandon(job)

    def _ended(self, kind: str) -> ComputeError:
        self.kill()
        return ComputeError(f"the compute process ended while computing {kind} (exit code "
                            f"{self.process.returncode}); a new one is started")

    def _abandon(self, job: int) -> None:
        """Stop job `job` (the caller stopped reading) and read up to its end."""
        try:
            self.conn.send(("cancel", job))
            deadline = time.monotonic() + STOP_SECONDS
            while time.monotonic() < deadline:
                if self.conn.poll(POLL_SECONDS):
                    message = self.conn.recv()
                    if message[1] == job and message[0] in ("done", "error"):
                        return
            self.kill()
        except (EOFError, OSError):
            self.kill()

    def kill(self) -> None:
        """End the child at once."""
        if self.alive():
            self.process.kill()
        self.process.wait()
        self.conn.close()

    def close(self) -> None:
        """Ask the child to quit; kill it if it does not within a second."""
        try:
            self.conn.send(("quit",))
            self.process.wait(1.0)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


class ComputePool:
    """The compute processes of this Python session (see the module docstring)."""

    def __init__(self, size: int = COMPUTE_PROCESSES) -> None:
        self.size = size
        self._idle: queue.Queue[ComputeProcess] = queue.Queue()
        self._all: list[ComputeProcess] = []
        self._lock = threading.Lock()
        self._specs: dict[int, tuple[ExplorerState, SystemSpec | None]] = {}
        self._local = threading.Lock()  # jobs computed here run one at a time (GIL)
        self.available = os.name == "posix" and size > 0
        self._started = False
        self._plugins: tuple[Any, ...] = ()
        self._dirs: list[str] = []

    def start(self) -> None:
        """Start the processes in the background (once); jobs run here until they are up.

        The window calls this after its first picture, which the start-up would delay.
        """
        if self.available and not self._started:
            self._started = True
            threading.Thread(target=self._start, daemon=True, name="dynsim-compute").start()

    def _start(self) -> None:
        plugins = active_plugins()
        self._plugins = _fingerprint(plugins)
        self._dirs = [str(d) for d in plugins.plugin_dirs]
        self._launch(self.size)
        if not self._all:
            self.available = False

    def _launch(self, count: int) -> None:
        """Start `count` processes and add those that answer."""
        try:
            started = [ComputeProcess(self._dirs) for _ in range(count)]
        except OSError:
            return
        for process in started:
            if process.wait_ready(60.0):
                with self._lock:
                    self._all.append(process)
                self._idle.put(process)
            else:
                process.kill()

    @property
    def ready(self) -> int:
        """How many compute processes are running."""
        return sum(p.alive() for p in list(self._all))

    def can_run(self, state: ExplorerState) -> bool:
        """Whether jobs for `state` would run in compute processes now (without calling
        its rhs: the GUI thread asks this)."""
        return self.ready > 0 and _fingerprint(active_plugins()) == self._plugins and \
            system_reference(state) is not None

    @property
    def jobs(self) -> int:
        """How many jobs the running processes were sent."""
        return sum(p.jobs for p in list(self._all))

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Start the processes and wait until all run (False: not within `timeout`)."""
        self.start()
        end = time.monotonic() + timeout
        while self.available and self.ready < self.size and time.monotonic() < end:
            self._reap()
            time.sleep(0.05)
        return self.ready == self.size

    def spec(self, state: ExplorerState) -> SystemSpec | None:
        """`system_spec(state)`, remembered per system object and parameter values."""
        key = id(state.system)
        known = self._specs.get(key)
        if known is not None and known[0].system is state.system and \
                known[0].params == state.params and known[0].model == state.model:
            return known[1]
        spec = system_spec(state)
        if len(self._specs) > 64:  # systems of long ago (each entry holds its state)
            self._specs.clear()
        self._specs[key] = (state, spec)
        return spec

    def run(self, kind: str, state: ExplorerState, token: CancelToken,
            progress: Callable[[float], None], local: Callable[[], Any],
            **extra: Any) -> Iterator[Any]:
        """The results of job `kind` for `state` (partial ones first), from a compute
        process, or from `local()` (an iterator) when none can do it."""
        self._reap()
        if self.ready and _fingerprint(active_plugins()) != self._plugins:
            self._restart()  # other plugins were loaded: the children must load them too
        spec = self.spec(state) if self.ready else None
        if spec is None:
            with self._local:
                yield from local()
            return
        process = self._take()
        if process is None:  # every process is busy ending a job, or gone: compute it here
            with self._local:
                yield from local()
            return
        try:
            yield from process.run(kind, state, spec, token, progress, extra)
        except SystemMismatch:
            self._specs[id(state.system)] = (state, None)
            with self._local:
                yield from local()
        finally:
            if process.alive():
                self._idle.put(process)
            else:
                self._replace(process)

    def _take(self) -> ComputeProcess | None:
        """An idle live process (dead ones are replaced), or None after `STOP_SECONDS`."""
        end = time.monotonic() + STOP_SECONDS
        while (left := end - time.monotonic()) > 0:
            try:
                process = self._idle.get(timeout=left)
            except queue.Empty:
                return None
            if process.alive():
                return process
            self._replace(process)
        return None

    def _restart(self) -> None:
        self.close()
        self._specs.clear()
        while not self._idle.empty():
            self._idle.get_nowait()
        self._started = False
        self.start()

    def _replace(self, dead: ComputeProcess) -> None:
        with self._lock:
            if dead not in self._all:
                return  # replaced already
            self._all.remove(dead)
        threading.Thread(target=self._launch, args=(1,), daemon=True).start()

    def _reap(self) -> None:
        """Replace the processes that died while idle."""
        for process in [p for p in list(self._all) if not p.alive()]:
            self._replace(process)

    def close(self) -> None:
        """End every compute process."""
        with self._lock:
            processes, self._all = list(self._all), []
        for process in processes:
            process.close()


def _fingerprint(plugins: Any) -> tuple[Any, ...]:
    """What tells two plugin sets apart for a child: their plugins, where each came from,
    its state (plugins registered directly are never in a child: `system_spec`)."""
    return tuple((r.name, r.origin, r.source, r.state) for r in plugins.records
                 if r.origin != "direct")


_pool: ComputePool | None = None


def compute_pool() -> ComputePool:
    """The session's compute processes (`start()`ed by the first window after its first
    picture; `DYNSIM_COMPUTE_PROCESSES=0` computes every job in the worker thread)."""
    global _pool
    if _pool is None:
        size = int(os.environ.get("DYNSIM_COMPUTE_PROCESSES", COMPUTE_PROCESSES))
        _pool = ComputePool(size)
        atexit.register(_pool.close)
    return _pool
