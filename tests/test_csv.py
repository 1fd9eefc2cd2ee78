"""CSV export and import: exact round trip, standard readers, atomic writes, clear errors."""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd
import pytest

import dynsim
from dynsim.core import csvio
from dynsim.core.errors import DataFileError, ExportError

AWKWARD = [0.1, 1 / 3, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
           -1e-300, 123456789.123456789, np.nextafter(1.0, 2.0), 1e22, 1e23, np.pi, -np.e]


def awkward_trajectories() -> dynsim.Trajectories:
    rng = np.random.default_rng(7)
    y = rng.standard_normal((3, 5, 2)) * 10.0 ** rng.integers(-300, 300, (3, 5, 2))
    y[0, :, 0] = AWKWARD[:5]
    y[1, :, 1] = AWKWARD[5:10]
    y[2, 3:, :] = np.nan  # a failed trajectory
    y[2, 0, 0] = np.inf
    t = np.array([0.0, 0.1, 0.2, 1 / 3, 7.0])
    return dynsim.Trajectories(t=t, y=y, states=("x", "y"))


def bits(a: np.ndarray) -> list[bytes]:
    return [struct.pack("<d", v) for v in np.asarray(a, dtype=float).ravel()]


def test_round_trip_is_bit_exact(tmp_path):
    traj = awkward_trajectories()
    path = tmp_path / "out.csv"
    traj.to_csv(path)
    back = dynsim.read_csv(path)
    assert back.states == ("x", "y")
    assert bits(back.t) == bits(traj.t)
    assert bits(back.y) == bits(traj.y)  # includes -0.0, subnormals, inf and NaN positions


def test_simulated_round_trip(tmp_path):
    traj = dynsim.simulate("lorenz", [[1, 1, 1], [2, 2, 2]], (0, 1), solver="rk4", points=51)
    traj.to_csv(tmp_path / "l.csv")
    back = dynsim.read_csv(tmp_path / "l.csv")
    assert bits(back.y) == bits(traj.y) and bits(back.t) == bits(traj.t)


def test_layout_header_and_order(tmp_path):
    traj = dynsim.Trajectories(t=[0.0, 0.5], y=[[[1, 2], [3, 4]], [[5, 6], [7, 8]]],
                               states=("u", "v"))
    traj.to_csv(tmp_path / "o.csv")
    raw = (tmp_path / "o.csv").read_bytes()
    assert raw.decode("utf-8").splitlines() == [
        "trajectory,t,u,v", "0,0.0,1.0,2.0", "0,0.5,3.0,4.0", "1,0.0,5.0,6.0", "1,0.5,7.0,8.0"]
    assert b"\r" not in raw


def test_pandas_and_numpy_read_it_without_options(tmp_path):
    traj = awkward_trajectories()
    traj.to_csv(tmp_path / "o.csv")
    frame = pd.read_csv(tmp_path / "o.csv")
    assert list(frame.columns) == ["trajectory", "t", "x", "y"]
    np.testing.assert_array_equal(frame[["x", "y"]].to_numpy(), traj.y.reshape(-1, 2))
    table = np.loadtxt(tmp_path / "o.csv", delimiter=",", skiprows=1)
    assert bits(table[:, 2:]) == bits(traj.y.reshape(-1, 2))
    np.testing.assert_array_equal(table[:, 0], np.repeat([0, 1, 2], 5))


def test_unicode_state_names(tmp_path):
    traj = dynsim.Trajectories(t=[0.0], y=[[[1.0, 2.0]]], states=("θ", "ω"))
    traj.to_csv(tmp_path / "u.csv")
    assert dynsim.read_csv(tmp_path / "u.csv").states == ("θ", "ω")
    assert list(pd.read_csv(tmp_path / "u.csv").columns) == ["trajectory", "t", "θ", "ω"]


def test_failed_export_leaves_existing_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "keep.csv"
    path.write_text("precious\n")
    traj = awkward_trajectories()
    real_rows = csvio.csv_rows

    def failing_rows(index, *args):
        if index == 1:
            raise OSError(28, "No space left on device")
        yield from real_rows(index, *args)

    monkeypatch.setattr(csvio, "csv_rows", failing_rows)
    with pytest.raises(ExportError, match=r"keep.csv: write failed: No space left on device"):
        traj.to_csv(path)
    assert path.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.csv"]


def test_cancelled_export_leaves_nothing_behind(tmp_path):
    token = dynsim.CancelToken()
    token.cancel()
    with pytest.raises(dynsim.Cancelled, match="CSV export cancelled"):
        dynsim.write_csv(awkward_trajectories(), tmp_path / "new.csv", cancel=token)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_export_leaves_nothing_behind(tmp_path, monkeypatch):
    def interrupted(index, *args):
        yield "0,0.0,1.0,2.0\n"
        raise KeyboardInterrupt

    monkeypatch.setattr(csvio, "csv_rows", interrupted)
    with pytest.raises(KeyboardInterrupt):
        dynsim.write_csv(awkward_trajectories(), tmp_path / "new.csv")
    assert list(tmp_path.iterdir()) == []


def test_export_into_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ExportError, match=r"folder '.*nowhere' does not exist"):
        awkward_trajectories().to_csv(tmp_path / "nowhere" / "x.csv")


def test_existing_file_permissions_are_kept(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("old")
    path.chmod(0o640)
    awkward_trajectories().to_csv(path)
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(("text", "message"), [
    ("", ":1:1: header must be 'trajectory,t,<state names>'"),
    ("time,x\n0,1\n", ":1:1: header must be"),
    ("trajectory,t,x,x\n0,0,1,1\n", ":1:16: state column name 'x' is empty or repeated"),
    ("trajectory,t,x\n", ":2:1: the file has a header but no data rows"),
    ("trajectory,t,x\n0,0,1\n0,1,abc\n", ":3:5: expected a number, got 'abc'"),
    ("trajectory,t,x\n0,0,1\n0,1\n", ":3:1: expected 3 comma-separated values, got 2"),
    ("trajectory,t,x\n0,0,1\n1.5,0,1\n", ":3:1: trajectory must be a whole number"),
    ("trajectory,t,x\n1,0,1\n", ":2:1: trajectories must be numbered 0, 1, 2"),
    ("trajectory,t,x\n0,0,1\n0,1,1\n1,0,1\n", ":4:1: trajectory 1 has 1 rows but trajectory 0 "
                                              "has 2"),
    ("trajectory,t,x\n0,0,1\n0,1,1\n1,0,1\n1,2,1\n", ":5:3: trajectory 1 has t = 2.0 where "
                                                     "trajectory 0 has 1.0"),
    ("trajectory,t,x\n0,0,1\n0,nan,1\n", ":3:3: t must be a finite number, got nan"),
])
def test_read_errors_name_file_line_and_column(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataFileError) as info:
        dynsim.read_csv(path)
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)


def test_read_missing_and_binary_files(tmp_path):
    with pytest.raises(DataFileError, match="no such file"):
        dynsim.read_csv(tmp_path / "missing.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataFileError, match="not UTF-8 text"):
        dynsim.read_csv(tmp_path / "bin.csv")


def test_reads_windows_line_endings_and_bom(tmp_path):
    path = tmp_path / "w.csv"
    path.write_bytes("\ufefftrajectory,t,x\r\n0,0.0,1.5\r\n0,1.0,2.5\r\n".encode())
    back = dynsim.read_csv(path)
    np.testing.assert_array_equal(back.y[0, :, 0], [1.5, 2.5])
