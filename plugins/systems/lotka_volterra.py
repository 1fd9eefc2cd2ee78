"""Lotka–Volterra predator–prey model."""

import numpy as np

import dynsim


def rhs(t, y, p):
    x, v = y[..., 0], y[..., 1]
    return dynsim.stack_states([p["alpha"] * x - p["beta"] * x * v,
                                p["delta"] * x * v - p["gamma"] * v], like=y)


def jacobian(t, y, p):
    x, v = y[..., 0], y[..., 1]
    return dynsim.stack_jacobian([[p["alpha"] - p["beta"] * v, -p["beta"] * x],
                                  [p["delta"] * v, p["delta"] * x - p["gamma"]]], like=y)


def invariant(y, p):
    """V = delta x - gamma ln x + beta y - alpha ln y, constant along orbits with x, y > 0."""
    x, v = y[..., 0], y[..., 1]
    return p["delta"] * x - p["gamma"] * np.log(x) + p["beta"] * v - p["alpha"] * np.log(v)


@dynsim.hookimpl
def dynsim_register_systems(register):
    register(dynsim.System(
        name="lotka_volterra",
        title="Lotka–Volterra",
        states=["x", "y"],
        params={
            "alpha": dynsim.Param(1.5, min=0.0, max=10.0, description="prey growth rate"),
            "beta": dynsim.Param(1.0, min=0.0, max=10.0, description="predation rate"),
            "delta": dynsim.Param(0.75, min=0.0, max=10.0,
                                  description="predator growth per prey eaten"),
            "gamma": dynsim.Param(1.0, min=0.0, max=10.0, description="predator death rate"),
        },
        rhs=rhs,
        jacobian=jacobian,
        invariant=invariant,
        bounds={"x": (0.0, 5.0), "y": (0.0, 5.0)},
        y0=(2.0, 1.0),
        tags=("population", "conservative", "planar"),
        description="Predator–prey model: dx = alpha x - beta x y, dy = delta x y - gamma y",
    ))
