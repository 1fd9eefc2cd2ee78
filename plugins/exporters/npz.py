"""NumPy .npz export: arrays t (T,), y (N, T, D), states, status and messages."""

import numpy as np

import dynsim


def write_npz(traj, path):
    with dynsim.atomic_write(path, "wb") as handle:
        np.savez_compressed(handle, t=traj.t, y=traj.y, states=np.array(traj.states),
                            status=np.array([str(s) for s in traj.status]),
                            messages=np.array(traj.messages))


@dynsim.hookimpl
def dynsim_register_exporters(register):
    register(dynsim.Exporter(
        name="npz", extensions=[".npz"], write=write_npz,
        description="compressed NumPy archive: t, y (N, T, D), states, status, messages"))
