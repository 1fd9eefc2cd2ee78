"""Lorenz (1963) convection model."""


import dynsim


def rhs(t, y, p):
    x, v, z = y[..., 0], y[..., 1], y[..., 2]
    return dynsim.stack_states([p["sigma"] * (v - x),
                                x * (p["rho"] - z) - v,
                                x * v - p["beta"] * z], like=y)


def jacobian(t, y, p):
    x, v, z = y[..., 0], y[..., 1], y[..., 2]
    return dynsim.stack_jacobian([[-p["sigma"], p["sigma"], 0.0],
                                  [p["rho"] - z, -1.0, -x],
                                  [v, x, -p["beta"]]], like=y)


@dynsim.hookimpl
def dynsim_register_systems(register):
    register(dynsim.System(
        name="lorenz",
        title="Lorenz",
        states=["x", "y", "z"],
        params={
            "sigma": dynsim.Param(10.0, min=0.0, max=50.0, description="Prandtl number"),
            "rho": dynsim.Param(28.0, min=0.0, max=300.0, description="Rayleigh number ratio"),
            "beta": dynsim.Param(8.0 / 3.0, min=0.0, max=20.0, description="aspect factor"),
        },
        rhs=rhs,
        jacobian=jacobian,
        bounds={"x": (-25.0, 25.0), "y": (-30.0, 30.0), "z": (0.0, 55.0)},
        y0=(1.0, 1.0, 1.0),
        tags=("chaotic", "3d"),
        description="Lorenz 1963: dx = sigma (y - x), dy = x (rho - z) - y, dz = x y - beta z",
    ))
