"""The cubic spiral dy/dt = y**3 @ A of torchdiffeq's Neural ODE demo."""

import numpy as np

import dynsim


def matrix(p):
    """A = [[-decay, rotation], [-rotation, -decay]] (the demo uses decay 0.1, rotation 2)."""
    return np.array([[-p["decay"], p["rotation"]], [-p["rotation"], -p["decay"]]])


def rhs(t, y, p):
    # (y**3) @ A written out, so that it runs on tensors too
    x3, v3 = y[..., 0] ** 3, y[..., 1] ** 3
    d, r = p["decay"], p["rotation"]
    return dynsim.stack_states([-d * x3 - r * v3, r * x3 - d * v3], like=y)


def jacobian(t, y, p):
    a = matrix(p)
    x2, v2 = 3.0 * y[..., 0] ** 2, 3.0 * y[..., 1] ** 2
    # rhs_j = sum_i y_i^3 A[i, j]  =>  d rhs_j / d y_i = 3 y_i^2 A[i, j]
    return dynsim.stack_jacobian([[x2 * a[0, 0], v2 * a[1, 0]],
                                  [x2 * a[0, 1], v2 * a[1, 1]]], like=y)


@dynsim.hookimpl
def dynsim_register_systems(register):
    register(dynsim.System(
        name="cubic_spiral", title="Cubic spiral (Neural ODE demo)", states=["x", "y"],
        params={"decay": dynsim.Param(0.1, min=0.0, max=2.0, description="spiral decay"),
                "rotation": dynsim.Param(2.0, min=-10.0, max=10.0,
                                         description="rotation strength")},
        rhs=rhs, jacobian=jacobian,
        bounds={"x": (-2.5, 2.5), "y": (-2.5, 2.5)}, y0=(2.0, 0.0),
        tags=("neural ode demo", "planar"),
        description="dy/dt = y**3 @ A with A = [[-0.1, 2], [-2, -0.1]] "
                    "(torchdiffeq examples/ode_demo.py)"))
