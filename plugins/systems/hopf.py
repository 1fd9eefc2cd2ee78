"""Normal form of the supercritical Hopf bifurcation."""


import dynsim


def rhs(t, y, p):
    x, v = y[..., 0], y[..., 1]
    r2 = x * x + v * v
    return dynsim.stack_states([p["mu"] * x - p["omega"] * v - x * r2,
                                p["omega"] * x + p["mu"] * v - v * r2], like=y)


def jacobian(t, y, p):
    x, v = y[..., 0], y[..., 1]
    return dynsim.stack_jacobian(
        [[p["mu"] - 3.0 * x * x - v * v, -p["omega"] - 2.0 * x * v],
         [p["omega"] - 2.0 * x * v, p["mu"] - x * x - 3.0 * v * v]], like=y)


@dynsim.hookimpl
def dynsim_register_systems(register):
    register(dynsim.System(
        name="hopf", title="Hopf normal form", states=["x", "y"],
        params={"mu": dynsim.Param(1.0, min=-5.0, max=5.0,
                                   description="bifurcation parameter (cycle radius sqrt(mu))"),
                "omega": dynsim.Param(1.0, min=-10.0, max=10.0,
                                      description="angular frequency")},
        rhs=rhs, jacobian=jacobian,
        bounds={"x": (-2.0, 2.0), "y": (-2.0, 2.0)}, y0=(0.1, 0.0),
        tags=("limit cycle", "bifurcation", "planar"),
        description="dx = mu x - omega y - x r^2, dy = omega x + mu y - y r^2; "
                    "a limit cycle of radius sqrt(mu) for mu > 0"))
