"""Planar oscillators: harmonic, Van der Pol, damped driven pendulum, Duffing."""

import numpy as np

import dynsim


def harmonic(t, y, p):
    return dynsim.stack_states([y[..., 1], -p["omega"] ** 2 * y[..., 0]], like=y)


def harmonic_jacobian(t, y, p):
    return dynsim.stack_jacobian([[0.0, 1.0], [-p["omega"] ** 2, 0.0]], like=y)


def harmonic_energy(y, p):
    return 0.5 * y[..., 1] ** 2 + 0.5 * p["omega"] ** 2 * y[..., 0] ** 2


def van_der_pol(t, y, p):
    x, v = y[..., 0], y[..., 1]
    return dynsim.stack_states([v, p["mu"] * (1.0 - x * x) * v - x], like=y)


def van_der_pol_jacobian(t, y, p):
    x, v = y[..., 0], y[..., 1]
    return dynsim.stack_jacobian([[0.0, 1.0],
                                  [-2.0 * p["mu"] * x * v - 1.0, p["mu"] * (1.0 - x * x)]],
                                 like=y)


def pendulum(t, y, p):
    xp = dynsim.array_module(y)
    theta, omega = y[..., 0], y[..., 1]
    drive = p["amplitude"] * xp.cos(p["drive_frequency"] * t)
    return dynsim.stack_states(
        [omega, -p["damping"] * omega - p["omega0"] ** 2 * xp.sin(theta) + drive], like=y)


def pendulum_jacobian(t, y, p):
    return dynsim.stack_jacobian([[0.0, 1.0],
                                  [-p["omega0"] ** 2 * np.cos(y[..., 0]), -p["damping"]]], like=y)


def duffing(t, y, p):
    xp = dynsim.array_module(y)
    x, v = y[..., 0], y[..., 1]
    force = p["gamma"] * xp.cos(p["omega"] * t)
    return dynsim.stack_states(
        [v, -p["delta"] * v - p["alpha"] * x - p["beta"] * x ** 3 + force], like=y)


def duffing_jacobian(t, y, p):
    x = y[..., 0]
    return dynsim.stack_jacobian([[0.0, 1.0],
                                  [-p["alpha"] - 3.0 * p["beta"] * x * x, -p["delta"]]], like=y)


@dynsim.hookimpl
def dynsim_register_systems(register):
    register(dynsim.System(
        name="harmonic_oscillator", title="Harmonic oscillator", states=["x", "v"],
        params={"omega": dynsim.Param(1.0, min=0.01, max=10.0,
                                      description="angular frequency")},
        rhs=harmonic, jacobian=harmonic_jacobian, invariant=harmonic_energy,
        bounds={"x": (-3.0, 3.0), "v": (-3.0, 3.0)}, y0=(1.0, 0.0),
        tags=("conservative", "linear", "planar"),
        description="dx = v, dv = -omega^2 x; energy v^2/2 + omega^2 x^2/2 is conserved"))
    register(dynsim.System(
        name="van_der_pol", title="Van der Pol oscillator", states=["x", "y"],
        params={"mu": dynsim.Param(1.0, min=0.0, max=1000.0,
                                   description="nonlinear damping (stiff when large)")},
        rhs=van_der_pol, jacobian=van_der_pol_jacobian,
        bounds={"x": (-3.0, 3.0), "y": (-4.0, 4.0)}, y0=(2.0, 0.0),
        tags=("limit cycle", "planar"),
        description="dx = y, dy = mu (1 - x^2) y - x; a stable limit cycle for mu > 0"))
    register(dynsim.System(
        name="pendulum", title="Damped driven pendulum", states=["theta", "omega"],
        params={
            "damping": dynsim.Param(0.5, min=0.0, max=5.0, description="damping coefficient"),
            "omega0": dynsim.Param(1.0, min=0.01, max=10.0,
                                   description="natural frequency sqrt(g/L)"),
            "amplitude": dynsim.Param(1.5, min=0.0, max=5.0, description="drive amplitude"),
            "drive_frequency": dynsim.Param(2.0 / 3.0, min=0.0, max=10.0,
                                            description="drive angular frequency"),
        },
        rhs=pendulum, jacobian=pendulum_jacobian,
        bounds={"theta": (-4.0, 4.0), "omega": (-3.0, 3.0)}, y0=(0.2, 0.0),
        tags=("non-autonomous", "chaotic", "planar"),
        description="dtheta = omega, domega = -damping omega - omega0^2 sin(theta) "
                    "+ amplitude cos(drive_frequency t); chaotic at the defaults"))
    register(dynsim.System(
        name="duffing", title="Duffing oscillator", states=["x", "v"],
        params={
            "delta": dynsim.Param(0.3, min=0.0, max=5.0, description="damping"),
            "alpha": dynsim.Param(-1.0, min=-10.0, max=10.0, description="linear stiffness"),
            "beta": dynsim.Param(1.0, min=-10.0, max=10.0, description="cubic stiffness"),
            "gamma": dynsim.Param(0.5, min=0.0, max=10.0, description="forcing amplitude"),
            "omega": dynsim.Param(1.2, min=0.0, max=10.0, description="forcing frequency"),
        },
        rhs=duffing, jacobian=duffing_jacobian,
        bounds={"x": (-2.0, 2.0), "v": (-2.0, 2.0)}, y0=(1.0, 0.0),
        tags=("non-autonomous", "chaotic", "planar"),
        description="dx = v, dv = -delta v - alpha x - beta x^3 + gamma cos(omega t)"))
