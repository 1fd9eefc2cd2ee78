"""What a new user, a hostile file and a misbehaving plugin can no longer break (issue 12).

Each test is one promise; the sections follow the issue's classes:

1. No code runs that the user did not name.
2. Sizes are checked before memory is spent.
3. Failures outside the solver are user errors too.
4. Output stays clean.
5. Numbers as users type them.
6. Plugins as people write them.
(7, docs that match, is checked in tests/test_docs.py.)
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import dynsim
from dynsim.cli.main import main
from dynsim.core import budget, plugin_import, textfile
from dynsim.core.errors import (
    DataFileError,
    InputError,
    PluginError,
    SceneError,
    SystemDefinitionError,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def run(capsys):
    """`run("simulate", ...)` -> (exit code, stdout, stderr) of the `dynsim` command."""

    def call(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return call


def write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def plugin(folder: Path, name: str, system: str, *, rhs: str = "-y", extra: str = "",
           top: str = "") -> Path:
    """A plugin file registering a 2-D system `system` with the given rhs expression."""
    return write(folder, f"{name}.py", f"""
        import numpy as np
        import dynsim
        {top}

        def rhs(t, y, p):
            return {rhs}

        {extra}

        @dynsim.hookimpl
        def dynsim_register_systems(register):
            register(dynsim.System(name="{system}", states=["x", "y"], params={{}}, rhs=rhs,
                                   bounds={{"x": (-2, 2), "y": (-2, 2)}}, y0=(1.0, 0.5),
                                   jacobian=globals().get("jacobian")))
    """)


def only_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "internal error" not in lines[0] and "Traceback" not in err
    return lines[0]


# -- 1. No code runs that the user did not name -----------------------------------------


EVIL = 'open("RAN", "w").write("plugin code ran")\n'


@pytest.mark.parametrize("value, message", [
    ("", "--plugins-dir is empty (an unset shell variable?)"),
    ("   ", "--plugins-dir is empty"),
    ("nowhere", "plugins directory 'nowhere' does not exist"),
    ("evil.py", "plugins directory 'evil.py' is a file, not a folder"),
])
def test_empty_missing_or_file_plugins_dir_is_an_error_and_imports_nothing(
        tmp_path, monkeypatch, run, value, message):
    (tmp_path / "evil.py").write_text(EVIL)
    monkeypatch.chdir(tmp_path)
    code, out, err = run("--plugins-dir", value, "list")
    assert code == 2 and out == ""
    assert message in only_line(err)
    assert not (tmp_path / "RAN").exists()


def test_library_refuses_an_empty_plugins_dir_too(tmp_path, monkeypatch):
    (tmp_path / "evil.py").write_text(EVIL)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PluginError, match="is empty"):
        dynsim.load_plugins([""], entry_points=False)
    assert not (tmp_path / "RAN").exists()


def test_empty_entries_of_the_plugins_path_are_not_the_current_folder(tmp_path, monkeypatch,
                                                                      run):
    (tmp_path / "evil.py").write_text(EVIL)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DYNSIM_PLUGINS_PATH", os.pathsep * 3)
    code, _, err = run("list")
    assert code == 0 and err == ""
    assert not (tmp_path / "RAN").exists()


def test_python_dash_m_does_not_import_modules_from_the_current_folder(tmp_path, cli):
    # `dynsim list` imports platformdirs lazily (the user's plugins folder)
    (tmp_path / "platformdirs.py").write_text(EVIL)
    done = cli("list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "RAN").exists()


# -- 2. Sizes are checked before memory is spent -----------------------------------------


def test_a_simulation_too_big_for_memory_is_refused_with_the_estimate_and_the_way_out(run):
    code, out, err = run("simulate", "lorenz", "--points", "1e12", "-o", "big.csv")
    line = only_line(err)
    assert code == 2 and out == ""
    assert "1 trajectory x 1e+12 output times x 3 states needs about 24" in line
    assert "TB of memory" in line and "fewer --points" in line and "--stream" in line
    assert not Path("big.csv").exists()


def test_the_memory_check_compares_with_the_memory_available(monkeypatch):
    monkeypatch.setattr(budget, "available_memory", lambda: 10**9)
    # 20 x 10001 x 2 floats (~3.2 MB with the solver's arrays) fit in 1 GB: it runs
    traj = dynsim.simulate("lotka_volterra", np.ones((20, 2)), (0, 1), points=10001)
    assert traj.ok and traj.y.shape == (20, 10001, 2)
    with pytest.raises(InputError, match=r"needs about 1\.6 GB of memory, but only 1 GB is "
                                         r"available; use fewer points .*stream_csv"):
        dynsim.simulate("lotka_volterra", np.ones((20, 2)), (0, 1), points=5 * 10**6)


@pytest.mark.parametrize("args, message", [
    (("--sweep", "alpha=0.5:1:1e10", "-o", "o.csv"), "--sweep alpha with N = 1e+10 values"),
    (("--basins", "--grid", "1e6", "-o", "o.csv"), "a grid of 1000000 x 1000000 points"),
    (("--basins", "--grid", "3,1e12", "-o", "o.csv"), "a grid of 3 x 1000000000000 points"),
])
def test_sweeps_and_grids_too_big_for_memory_are_refused_up_front(tmp_path, monkeypatch, run,
                                                                   args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run("analyze", "lotka_volterra", *args)
    line = only_line(err)
    assert code == 2 and message in line and "of memory, but only" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("reader, error", [(dynsim.load_scene, SceneError),
                                           (dynsim.read_csv, DataFileError)])
def test_a_file_that_never_ends_is_refused_at_once(tmp_path, reader, error):
    link = tmp_path / ("zero.toml" if error is SceneError else "zero.csv")
    link.symlink_to("/dev/zero")
    start = time.perf_counter()
    with pytest.raises(error, match=r"not UTF-8 text \(a NUL byte at byte 0"):
        reader(link)
    assert time.perf_counter() - start < 1.0


def test_an_endless_text_stream_is_refused_after_the_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(textfile, "PIECE", 1000)
    fifo = tmp_path / "yes.csv"
    os.mkfifo(fifo)
    feeder = subprocess.Popen(f"yes 0,0.0,1.0 > {fifo}", shell=True)
    try:
        with pytest.raises(DataFileError, match=r"larger than 1 MB, the most dynsim reads"):
            textfile.read_user_text(fifo, DataFileError, limit=10**6)
    finally:
        feeder.kill()
        feeder.wait()


def test_a_huge_scene_file_is_refused(tmp_path):
    path = tmp_path / "huge.toml"
    path.write_text("# padding\n" * 2_000_000)
    with pytest.raises(SceneError, match=r"huge.toml: larger than 16 MB"):
        dynsim.load_scene(path)


@pytest.mark.parametrize("nested", ["a = " + "[" * 50_000 + "]" * 50_000,
                                    "a = " + "{b = " * 50_000 + "1" + "}" * 50_000])
def test_a_scene_nested_absurdly_deep_is_refused(tmp_path, nested):
    path = tmp_path / "deep.toml"
    path.write_text(nested)
    with pytest.raises(SceneError, match="nested too deeply"):
        dynsim.load_scene(path)


def test_analysis_grids_too_big_for_memory_are_refused_before_allocation():
    from dynsim.analysis import basins_of_attraction, direction_field, find_nullclines

    for analysis in (basins_of_attraction, direction_field, find_nullclines):
        with pytest.raises(InputError, match=r"a grid of 1000000 x 1000000 points needs about "
                                             r"\d+ TB of memory.*give fewer grid points"):
            analysis("lotka_volterra", resolution=10**6)


def test_stream_writes_in_chunks_what_simulate_computes(tmp_path, run):
    ref = dynsim.simulate("lorenz", [[1, 1, 1], [2, 2, 2]], (0, 4), points=801,
                          rtol=1e-10, atol=1e-12)
    for chunk in (10**9, 2000):  # whole trajectories; windows of 62 output times
        handle = io.StringIO()
        ends = dynsim.stream_csv("lorenz", [[1, 1, 1], [2, 2, 2]], (0, 4), handle,
                                 points=801, rtol=1e-10, atol=1e-12, chunk_bytes=chunk)
        (tmp_path / "s.csv").write_text(handle.getvalue())
        back = dynsim.read_csv(tmp_path / "s.csv")
        assert [s for s, _ in ends] == ["success", "success"]
        assert np.array_equal(back.t, ref.t)  # the output times are np.linspace's, bit for bit
        assert np.allclose(back.y, ref.y, rtol=1e-6, atol=1e-6)
        assert back.status == ("success", "success")
    code, out, _err = run("simulate", "lorenz", "--points", "5", "--stream")
    assert code == 0 and out.splitlines()[0] == "trajectory,t,x,y,z,status"
    assert len(out.splitlines()) == 6


def test_stream_refuses_what_it_cannot_write_in_chunks(tmp_path, run):
    code, _, err = run("simulate", "lorenz", "--stream", "-o", str(tmp_path / "x.npz"))
    assert code == 2 and "--stream writes CSV" in only_line(err)
    scene = tmp_path / "s.toml"
    scene.write_text((REPO / "scenes" / "lorenz.toml").read_text().replace(
        "points = 4001", "t_eval = [0.0, 1.0, 2.0]"))
    code, _, err = run("simulate", str(scene), "--stream")
    assert code == 2 and "--stream needs evenly spaced output times" in only_line(err)
    assert list(tmp_path.iterdir()) == [scene]


def test_a_streamed_failure_is_marked_on_the_trajectory_rows_after_it(tmp_path, run):
    out_file = tmp_path / "s.csv"
    code, _out, err = run("simulate", "lorenz", "--y0", "1,1,1", "--y0", "1e300,1,1",
                          "--points", "201", "--max-steps", "1000", "--stream", "-o",
                          str(out_file))
    assert code == 1 and "trajectory 1: max_steps" in err
    back = dynsim.read_csv(out_file)
    assert back.status == ("success", "max_steps")
    assert np.isnan(back.y[1, 1:]).all() and np.isfinite(back.y[0]).all()


# -- 3. Failures outside the solver are user errors too -----------------------------------


def test_an_unreadable_plugin_folder_is_a_warning_and_the_rest_works(tmp_path, monkeypatch,
                                                                      run):
    locked = tmp_path / "locked"
    locked.mkdir()
    real = Path.iterdir

    def iterdir(self):
        if self == locked:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    monkeypatch.setenv("DYNSIM_PLUGINS_PATH", str(locked))
    for args in (("list",), ("--plugins-dir", str(locked), "simulate", "lorenz",
                             "--points", "3")):
        code, out, err = run(*args)
        assert code == 0 and out
        assert f"cannot read plugins directory '{locked}': Permission denied" in err
        assert "internal error" not in err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [("simulate", "lorenz"), ("list",), ("analyze", "lorenz")])
def test_stdout_on_a_full_device_is_a_clear_error(args):
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "dynsim", *args], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 2
    assert only_line(done.stderr) == ("dynsim: error: standard output: write failed: No space "
                                      "left on device; free space on the device, or send the "
                                      "output elsewhere")


@pytest.mark.parametrize("duration", ["1e308", "1e9"])
def test_absurd_lyapunov_durations_are_refused_up_front(run, duration):
    code, _, err = run("analyze", "lorenz", "--lyapunov", "--duration", duration)
    assert code == 2
    assert f"--duration {float(duration):g} needs more than 1e+08 QR intervals of 0.5" in \
        only_line(err)


def test_a_time_span_longer_than_the_largest_float_is_refused():
    with pytest.raises(InputError, match="longer than the largest float"):
        dynsim.simulate("lorenz", [1, 1, 1], (-1.7e308, 1.7e308))


RAISES = "1 / 0 if np.any(y[..., 0] > 0.9) else -y"


@pytest.mark.parametrize("command", [
    ("analyze", "boom"),
    ("analyze", "boom", "--json"),
])
def test_a_plugin_rhs_raising_under_analyze_names_the_plugin_and_the_system(tmp_path, run,
                                                                            command):
    plugin(tmp_path, "boomer", "boom", rhs="1 / 0")
    code, _out, err = run("--plugins-dir", str(tmp_path), *command)
    line = only_line(err)
    assert code == 2
    assert "plugin 'boomer': system 'boom': rhs raised" in line
    assert "boomer.py:" in line and "ZeroDivisionError: division by zero" in line


def test_a_plugin_jacobian_raising_under_analyze_names_the_plugin(tmp_path, run):
    plugin(tmp_path, "jac", "jacboom", extra="""
        def jacobian(t, y, p):
            raise ValueError("no Jacobian today")
        """)
    code, _, err = run("--plugins-dir", str(tmp_path), "analyze", "jacboom")
    assert code == 2
    assert ("plugin 'jac': system 'jacboom': jacobian raised" in only_line(err)
            and "ValueError: no Jacobian today" in err)


def test_a_plugin_rhs_raising_inside_simulate_is_the_trajectory_status(tmp_path, run):
    plugin(tmp_path, "boomer", "boom", rhs=RAISES)
    code, out, err = run("--plugins-dir", str(tmp_path), "simulate", "boom", "--y0", "0.5,0",
                         "--y0", "2,0", "--points", "3")
    assert code == 1 and out.startswith("trajectory,t,x,y,status")
    assert "trajectory 1: rhs_error:" in err and "plugin 'boomer': system 'boom'" in err
    assert "trajectory 0" not in err


def test_a_plugin_exporter_raising_names_the_plugin_and_leaves_no_file(tmp_path, run):
    write(tmp_path / "plugins", "badexport.py", """
        import dynsim

        def write(traj, path):
            with dynsim.atomic_write(path, "w") as handle:
                handle.write("partial")
                raise RuntimeError("the format library broke")

        @dynsim.hookimpl
        def dynsim_register_exporters(register):
            register(dynsim.Exporter("weird", [".weird"], write))
        """)
    target = tmp_path / "out.weird"
    code, _, err = run("--plugins-dir", str(tmp_path / "plugins"), "simulate", "lorenz",
                       "-o", str(target))
    line = only_line(err)
    assert code == 2
    assert f"{target}: plugin 'badexport': exporter 'weird' raised" in line
    assert "RuntimeError: the format library broke" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plugins"]


def test_a_plugin_solver_raising_names_the_plugin_the_solver_and_the_system(tmp_path, run):
    write(tmp_path, "badsolver.py", """
        import dynsim

        class Broken:
            name = "broken"
            description = "raises"

            def solve(self, problem):
                return problem.nothing_here

        @dynsim.hookimpl
        def dynsim_register_solvers(register):
            register(Broken())
        """)
    code, _, err = run("--plugins-dir", str(tmp_path), "simulate", "lorenz", "--solver",
                       "broken")
    line = only_line(err)
    assert code == 2
    assert "plugin 'badsolver': solver 'broken': solve raised" in line
    assert "AttributeError" in line and "on system 'lorenz'" in line


@pytest.mark.parametrize("rhs, message", [
    ("y + 1j", "rhs returned complex values"),
    ("y[..., :1]", "rhs returned shape (1, 1) for y of shape (1, 2)"),
    ("y.T", "rhs returned shape (2, 1) for y of shape (1, 2)"),
    ("np.zeros(2)", "rhs returned shape (2,) for y of shape (1, 2)"),
])
def test_an_rhs_returning_complex_or_the_wrong_shape_is_refused(tmp_path, run, rhs, message):
    plugin(tmp_path, "odd", "odd", rhs=rhs)
    code, out, err = run("--plugins-dir", str(tmp_path), "simulate", "odd", "--points", "3")
    assert code == 2 and out == ""
    assert f"system 'odd': {message}" in only_line(err)


@pytest.mark.parametrize("rhs, message", [
    ("y + 1j", "rhs returned complex values"),
    ("y[..., :1]", "rhs returned shape"),
])
def test_complex_or_misshapen_rhs_is_refused_by_the_analyses_too(rhs, message):
    system = dynsim.System("odd", ["x", "y"], {}, eval(f"lambda t, y, p: {rhs}"),
                           bounds=[(-1, 1), (-1, 1)])
    from dynsim.analysis import direction_field, find_equilibria

    for analysis in (find_equilibria, direction_field):
        with pytest.raises(SystemDefinitionError, match=message):
            analysis(system)
    with pytest.raises(SystemDefinitionError, match=message):
        dynsim.simulate(system, [0.5, 0.5], (0, 1))


def test_an_event_function_that_raises_becomes_the_trajectory_status():
    def g(t, y, p):
        if np.any(y[:, 0] > 1.5):
            raise ValueError("cannot judge this state")
        return y[:, 0] - 10.0

    event = dynsim.Event("judge", g)
    traj = dynsim.simulate("lotka_volterra", [[1.0, 1.0], [2.0, 1.0]], (0, 5), events=[event])
    assert traj.status[1] == "rhs_error"
    assert traj.messages[1].startswith("the event function 'judge' raised ValueError: cannot "
                                       "judge this state at t = 0")
    assert np.isnan(traj.y[1, 1:]).all()
    # trajectory 0 goes on while its state stays below 1.5 ... until it crosses it
    assert traj.status[0] in ("success", "rhs_error")
    assert np.isfinite(traj.y[0, 0]).all()


def test_an_event_that_raises_later_keeps_what_was_computed():
    def g(t, y, p):
        if np.any(t > 2.0):
            raise RuntimeError("late")
        return y[:, 0] - 10.0

    traj = dynsim.simulate("lotka_volterra", [1.0, 1.0], (0, 5), events=[dynsim.Event("g", g)],
                           points=51)
    assert traj.status == ("rhs_error",) and "raised RuntimeError: late at t = 2" in \
        traj.messages[0]
    ref = dynsim.simulate("lotka_volterra", [1.0, 1.0], (0, 5), points=51)
    done = np.isfinite(traj.y[0, :, 0])
    assert done[:20].all() and not done[-1]
    assert np.allclose(traj.y[0, done], ref.y[0, done], rtol=1e-6, atol=1e-8)


def test_unexpected_exceptions_stay_internal_errors(monkeypatch, run):
    from dynsim.cli import listing

    def bug(plugins):
        raise ZeroDivisionError("a bug of ours")

    monkeypatch.setattr(listing, "listing", bug)
    code, _, err = run("list")
    assert code == 1 and "dynsim: internal error: ZeroDivisionError: a bug of ours" in err


# -- 4. Output stays clean ----------------------------------------------------------------


def test_plugin_prints_go_to_stderr_not_into_the_csv_on_stdout(tmp_path, run):
    plugin(tmp_path, "chatty", "chatty", top='print("hello at import")',
           rhs='(print("hello from rhs"), -y)[1]',
           extra='print("more at import")')
    (tmp_path / "chatty.py").write_text((tmp_path / "chatty.py").read_text().replace(
        "def dynsim_register_systems(register):",
        "def dynsim_register_systems(register):\n    print('hello from the hook')"))
    code, out, err = run("--plugins-dir", str(tmp_path), "simulate", "chatty", "--points", "4")
    assert code == 0
    assert out.splitlines()[0] == "trajectory,t,x,y" and len(out.splitlines()) == 5
    for text in ("hello at import", "hello from the hook", "hello from rhs"):
        assert text in err and text not in out
    code, out, err = run("--plugins-dir", str(tmp_path), "analyze", "chatty", "--json")
    assert code == 0 and out.startswith("{") and "hello from rhs" in err


@pytest.mark.parametrize("states, name", [(["t", "x"], "t"), (["x", "trajectory"], "trajectory"),
                                          (["status"], "status")])
def test_state_names_clashing_with_the_csv_columns_are_refused_at_registration(
        tmp_path, states, name):
    with pytest.raises(SystemDefinitionError, match=f"state name '{name}' is reserved"):
        dynsim.System("clash", states, {}, lambda t, y, p: y)
    write(tmp_path, "clash.py", f"""
        import dynsim

        @dynsim.hookimpl
        def dynsim_register_systems(register):
            register(dynsim.System("clash", {states!r}, {{}}, lambda t, y, p: y))
        """)
    plugins = dynsim.load_plugins([tmp_path], entry_points=False, environment=False)
    (record,) = [r for r in plugins.records if r.name == "clash"]
    assert record.state == "failed" and f"state name '{name}' is reserved" in record.error
    assert "clash" not in plugins.names("systems")


def test_repeated_state_names_are_refused():
    with pytest.raises(SystemDefinitionError, match="state names repeat"):
        dynsim.System("twice", ["x", "x"], {}, lambda t, y, p: y)


SLOW_EXPORTER = """
    import time
    import dynsim

    def write(traj, path):
        with dynsim.atomic_write(path, "w") as handle:
            handle.write("x" * 100000)
            handle.flush()
            print("writing", flush=True)
            time.sleep(60)

    @dynsim.hookimpl
    def dynsim_register_exporters(register):
        register(dynsim.Exporter("slow", [".slow"], write))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_during_o_leaves_no_temporary_file(tmp_path, signum):
    write(tmp_path / "plugins", "slow.py", SLOW_EXPORTER)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.slow").write_text("old")
    proc = subprocess.Popen([sys.executable, "-m", "dynsim", "--plugins-dir",
                             str(tmp_path / "plugins"), "simulate", "lorenz", "-o",
                             str(out / "keep.slow")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr.readline().strip() == "writing"  # plugin prints go to stderr
        assert len(list(out.iterdir())) == 2  # the hidden temporary file exists now
        proc.send_signal(signum)
        code = proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert code == (130 if signum == signal.SIGINT else 128 + signum)
    assert [p.name for p in out.iterdir()] == ["keep.slow"]
    assert (out / "keep.slow").read_text() == "old"


def test_a_csv_of_failed_trajectories_reads_back_with_their_statuses(tmp_path, run):
    path = tmp_path / "failed.csv"
    code, _, _ = run("simulate", "lorenz", "--y0", "1,1,1", "--y0", "1e300,1,1", "--points",
                     "5", "--max-steps", "1000", "-o", str(path))
    assert code == 1
    header = path.read_text().splitlines()[0]
    assert header == "trajectory,t,x,y,z,status"
    back = dynsim.read_csv(path)
    assert back.status == ("success", "max_steps") and not back.ok
    assert back.failures() == ["trajectory 1: max_steps"]


def test_csv_files_of_successful_runs_keep_the_plain_numeric_format(tmp_path):
    path = tmp_path / "ok.csv"
    dynsim.simulate("lorenz", [1, 1, 1], (0, 1), points=5).to_csv(path)
    assert path.read_text().splitlines()[0] == "trajectory,t,x,y,z"
    assert np.loadtxt(path, delimiter=",", skiprows=1).shape == (5, 5)
    assert dynsim.read_csv(path).status == ("success",)


def test_an_unknown_status_in_a_csv_is_a_located_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("trajectory,t,x,status\n0,0.0,1.0,success\n0,1.0,nan,exploded\n")
    with pytest.raises(DataFileError, match=r"bad.csv:3:11: unknown status 'exploded'"):
        dynsim.read_csv(path)


@pytest.mark.parametrize("change, key", [
    ({"t_span": (0.0, float("inf"))}, "simulation.t_span"),
    ({"initial_conditions": ((1.0, float("nan")),)}, "simulation.initial_conditions"),
    ({"dt": -1.0}, "simulation.dt"),
])
def test_scene_save_refuses_what_load_scene_would_refuse(tmp_path, change, key):
    scene = dynsim.load_scene(REPO / "scenes" / "lotka_volterra.toml")
    target = tmp_path / "s.toml"
    with pytest.raises(SceneError, match=rf"s.toml \(not saved\): {key}"):
        scene.replace_simulation(**change).save(target)
    assert list(tmp_path.iterdir()) == []
    scene.save(target)
    assert dynsim.load_scene(target) == scene


# -- 5. Numbers as users type them --------------------------------------------------------


@pytest.mark.parametrize("value", ["-1,2,3", "-1 -2 -3", "-1e-3,2,-3.5", "-.5,1,1"])
def test_negative_numbers_work_as_option_values(run, value):
    code, out, err = run("simulate", "lorenz", "--y0", value, "--points", "2")
    assert code == 0, err
    first = [float(v) for v in out.splitlines()[1].split(",")[2:]]
    assert first == [float(v) for v in value.replace(",", " ").split()]


def test_negative_values_work_in_every_number_option(run):
    code, out, err = run("simulate", "harmonic_oscillator", "--y0", "-1,-1", "--t-end", "-1",
                         "--points", "2")
    assert code == 0 and out.splitlines()[-1].split(",")[1] == "-1.0"
    code, out, err = run("analyze", "lotka_volterra", "--t", "-1", "--box", "x=-1:3",
                         "--box", "y=-1:3")
    assert code == 0 and "x [-1, 3]" in out
    code, _, err = run("simulate", "lorenz", "--y0", "-x")
    assert code == 2 and "--y0: expected one argument" in err  # options stay options


@pytest.mark.parametrize("size", [1e200, 1e250])
def test_a_huge_right_hand_side_integrates(size):
    system = dynsim.System("huge", ["x"], {}, lambda t, y, p: np.full_like(y, size))
    traj = dynsim.simulate(system, [1.0], (0, 1), points=3)
    assert traj.ok, traj.messages
    assert traj.y[0, :, 0] == pytest.approx([1.0, size / 2, size], rel=1e-12)
    fast = dynsim.System("fast", ["x", "v"], {},
                         lambda t, y, p: size * np.stack([y[..., 1], -y[..., 0]], -1))
    traj = dynsim.simulate(fast, [1.0, 0.0], (0, 3 / size), rtol=1e-9, atol=1e-12)
    assert traj.ok and traj.y[0, -1] == pytest.approx([np.cos(3), -np.sin(3)], abs=1e-7)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_states_are_refused_by_odeint_up_front(dtype):
    torch = pytest.importorskip("torch")
    from dynsim.learn import odeint

    y0 = torch.ones(2, dtype=getattr(torch, dtype))
    with pytest.raises(InputError, match=rf"y0 is torch\.{dtype}: .* use torch\.float32 or "
                                         "torch.float64"):
        odeint(lambda t, y: -y, y0, torch.tensor([0.0, 1.0]))


def test_hints_use_the_spelling_of_the_front_end(run):
    code, _, err = run("simulate", "lorenz", "--t-end", "100", "--max-steps", "10")
    assert code == 1
    assert "try --solver radau or --solver bdf, or raise --max-steps" in err
    assert "solver='" not in err
    traj = dynsim.simulate("lorenz", [1, 1, 1], (0, 100), max_steps=10)
    assert "try solver='radau' or solver='bdf', or raise max_steps" in traj.messages[0]
    code, _, err = run("simulate", "lorenz", "--solver", "rk4", "--dt", "1", "--t-end", "100",
                       "--points", "2")
    assert code == 1 and "try a smaller --dt or an adaptive solver" in err


@pytest.mark.parametrize("where", ["cli", "scene", "python"])
def test_an_unknown_solver_gets_did_you_mean(tmp_path, run, where):
    message = "unknown solver 'dopri' (did you mean 'dopri5'?)"
    if where == "python":
        with pytest.raises(dynsim.DynsimError, match=r"\(did you mean 'dopri5'\?\)"):
            dynsim.simulate("lorenz", [1, 1, 1], (0, 1), solver="dopri")
        return
    if where == "cli":
        code, _, err = run("simulate", "lorenz", "--solver", "dopri")
    else:
        text = (REPO / "scenes" / "lorenz.toml").read_text()
        scene = tmp_path / "s.toml"
        scene.write_text(text.replace('solver = "rk4"', 'solver = "dopri"'))
        code, _, err = run("simulate", str(scene))
    assert code == 2 and message in only_line(err)


def test_usage_errors_name_the_right_commands_help(run):
    code, _, err = run("analyze", "lorenz", "--bogus")
    assert code == 2 and "(see 'dynsim analyze --help')" in only_line(err)


# -- 6. Plugins as people write them ------------------------------------------------------


@pytest.mark.parametrize("style", ["from . import physics",
                                   "from .physics import rhs",
                                   "from mechanics import physics",
                                   "import mechanics.physics as physics"])
def test_a_package_plugin_can_import_its_own_submodules(tmp_path, style, run):
    write(tmp_path, "mechanics/physics.py", """
        import numpy as np

        def rhs(t, y, p):
            return np.stack([y[..., 1], -y[..., 0]], axis=-1)
        """)
    write(tmp_path, "mechanics/__init__.py", f"""
        import dynsim
        {style}

        @dynsim.hookimpl
        def dynsim_register_systems(register):
            f = rhs if "rhs" in globals() else physics.rhs
            register(dynsim.System("spring", ["x", "v"], {{}}, f, y0=(1.0, 0.0)))
        """)
    for _ in range(2):  # loading twice (a reload) imports the files afresh
        plugins = dynsim.load_plugins([tmp_path], entry_points=False, environment=False)
        assert not plugins.failures(), plugins.failures()
    traj = dynsim.simulate("spring", [1.0, 0.0], (0, np.pi), rtol=1e-10, atol=1e-12)
    assert traj.y[0, -1] == pytest.approx([-1.0, 0.0], abs=1e-8)
    code, _out, err = run("--plugins-dir", str(tmp_path), "simulate", "spring", "--points", "2")
    assert code == 0 and err == ""


def test_a_package_named_like_an_installed_module_still_loads(tmp_path):
    write(tmp_path, "json/helper.py", "VALUE = 2.0\n")
    write(tmp_path, "json/__init__.py", """
        import dynsim
        from .helper import VALUE

        @dynsim.hookimpl
        def dynsim_register_systems(register):
            register(dynsim.System("jsonish", ["x"], {}, lambda t, y, p: -VALUE * y))
        """)
    plugins = dynsim.load_plugins([tmp_path], entry_points=False, environment=False)
    assert not plugins.failures()
    import json

    assert hasattr(json, "dumps")  # the standard module is untouched
    traj = dynsim.simulate("jsonish", [1.0], (0, 1), rtol=1e-10, atol=1e-12)
    assert traj.y[0, -1, 0] == pytest.approx(np.exp(-2.0), rel=1e-8)


def test_a_plugin_that_hangs_at_import_gets_a_warning_naming_it(tmp_path, monkeypatch,
                                                                capsys):
    monkeypatch.setattr(plugin_import, "HANG_WARNING_SECONDS", 0.2)
    write(tmp_path, "sleepy.py", "import time\ntime.sleep(1.0)\n")
    write(tmp_path, "quick.py", "X = 1\n")
    dynsim.load_plugins([tmp_path], entry_points=False, environment=False)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "still loading" in line]
    assert len(lines) == 1
    assert lines[0].startswith("dynsim: warning: plugin 'sleepy' (")
    assert "DYNSIM_DISABLE_PLUGINS=sleepy" in lines[0]


# -- 7. Long analyses show progress (the docs are checked in tests/test_docs.py) ----------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lyapunov_progress_is_a_line_on_a_terminal_and_nothing_in_a_pipe(monkeypatch):
    from dynsim.analysis import lyapunov_spectrum
    from dynsim.cli import progress

    seen: list[float] = []
    lyapunov_spectrum("lorenz", duration=5.0, transient=1.0, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 10
    monkeypatch.setattr(progress, "REFRESH_SECONDS", 0.0)
    terminal = _Terminal()
    show = progress.progress_line("Lyapunov spectrum", terminal)
    for fraction in (0.25, 0.5, 1.0):
        show(fraction)
    assert terminal.getvalue() == ("\rdynsim: Lyapunov spectrum:  25%"
                                   "\rdynsim: Lyapunov spectrum:  50%\r\x1b[K")
    assert progress.progress_line("Lyapunov spectrum", io.StringIO()) is None
