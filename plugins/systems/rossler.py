"""Rössler (1976) attractor."""


import dynsim


def rhs(t, y, p):
    x, v, z = y[..., 0], y[..., 1], y[..., 2]
    return dynsim.stack_states([-v - z, x + p["a"] * v, p["b"] + z * (x - p["c"])], like=y)


def jacobian(t, y, p):
    x, z = y[..., 0], y[..., 2]
    return dynsim.stack_jacobian([[0.0, -1.0, -1.0],
                                  [1.0, p["a"], 0.0],
                                  [z, 0.0, x - p["c"]]], like=y)


@dynsim.hookimpl
def dynsim_register_systems(register):
    register(dynsim.System(
        name="rossler", title="Rössler", states=["x", "y", "z"],
        params={"a": dynsim.Param(0.2, min=-1.0, max=1.0),
                "b": dynsim.Param(0.2, min=0.0, max=5.0),
                "c": dynsim.Param(5.7, min=0.0, max=30.0)},
        rhs=rhs, jacobian=jacobian,
        bounds={"x": (-12.0, 12.0), "y": (-12.0, 12.0), "z": (0.0, 25.0)}, y0=(1.0, 1.0, 1.0),
        tags=("chaotic", "3d"),
        description="dx = -y - z, dy = x + a y, dz = b + z (x - c)"))
