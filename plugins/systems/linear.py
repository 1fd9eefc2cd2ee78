"""Planar linear systems dy/dt = A y: the general one and the classic phase portraits."""


import dynsim

BOUNDS = {"x": (-3.0, 3.0), "y": (-3.0, 3.0)}
RATE = {"min": 0.05, "max": 5.0}


def linear_system(name, title, params, matrix, description, invariant=None):
    """A planar linear system whose matrix `matrix(p)` ((a, b), (c, d)) depends on params."""

    def rhs(t, y, p):
        (a, b), (c, d) = matrix(p)
        x, v = y[..., 0], y[..., 1]
        return dynsim.stack_states([a * x + b * v, c * x + d * v], like=y)

    def jacobian(t, y, p):
        return dynsim.stack_jacobian(matrix(p), like=y)

    return dynsim.System(name=name, title=title, states=["x", "y"], params=params, rhs=rhs,
                         jacobian=jacobian, invariant=invariant, bounds=BOUNDS, y0=(1.0, 1.0),
                         tags=("linear", "planar"), description=description)


def _radius_squared(y, p):
    return y[..., 0] ** 2 + y[..., 1] ** 2


SYSTEMS = [
    linear_system(
        "linear", "Linear system [[a, b], [c, d]]",
        {k: dynsim.Param(v, min=-10.0, max=10.0, description=f"matrix entry {k}")
         for k, v in {"a": -0.5, "b": 1.0, "c": -1.0, "d": -0.5}.items()},
        lambda p: ((p["a"], p["b"]), (p["c"], p["d"])),
        "General planar linear system dx = a x + b y, dy = c x + d y"),
    linear_system(
        "attractor", "Stable node (attractor)",
        {"lambda1": dynsim.Param(1.0, **RATE, description="decay rate along x"),
         "lambda2": dynsim.Param(2.0, **RATE, description="decay rate along y")},
        lambda p: ((-p["lambda1"], 0.0), (0.0, -p["lambda2"])),
        "Stable node: dx = -lambda1 x, dy = -lambda2 y; every orbit falls into the origin"),
    linear_system(
        "repulsor", "Unstable node (repulsor)",
        {"lambda1": dynsim.Param(1.0, **RATE, description="growth rate along x"),
         "lambda2": dynsim.Param(2.0, **RATE, description="growth rate along y")},
        lambda p: ((p["lambda1"], 0.0), (0.0, p["lambda2"])),
        "Unstable node: dx = lambda1 x, dy = lambda2 y; every orbit leaves the origin"),
    linear_system(
        "saddle", "Saddle",
        {"lambda1": dynsim.Param(1.0, **RATE, description="growth rate along x"),
         "lambda2": dynsim.Param(1.0, **RATE, description="decay rate along y")},
        lambda p: ((p["lambda1"], 0.0), (0.0, -p["lambda2"])),
        "Saddle: dx = lambda1 x, dy = -lambda2 y"),
    linear_system(
        "center", "Center",
        {"omega": dynsim.Param(1.0, **RATE, description="angular frequency")},
        lambda p: ((0.0, p["omega"]), (-p["omega"], 0.0)),
        "Center: dx = omega y, dy = -omega x; circles around the origin",
        invariant=_radius_squared),
    linear_system(
        "stable_spiral", "Stable spiral (focus)",
        {"sigma": dynsim.Param(0.2, **RATE, description="decay rate"),
         "omega": dynsim.Param(1.0, **RATE, description="angular frequency")},
        lambda p: ((-p["sigma"], p["omega"]), (-p["omega"], -p["sigma"])),
        "Stable spiral: dx = -sigma x + omega y, dy = -omega x - sigma y"),
    linear_system(
        "unstable_spiral", "Unstable spiral (focus)",
        {"sigma": dynsim.Param(0.2, **RATE, description="growth rate"),
         "omega": dynsim.Param(1.0, **RATE, description="angular frequency")},
        lambda p: ((p["sigma"], p["omega"]), (-p["omega"], p["sigma"])),
        "Unstable spiral: dx = sigma x + omega y, dy = -omega x + sigma y"),
]


@dynsim.hookimpl
def dynsim_register_systems(register):
    for system in SYSTEMS:
        register(system)
