"""Kermack–McKendrick SIR epidemic model (population fractions)."""


import dynsim


def rhs(t, y, p):
    s, i = y[..., 0], y[..., 1]
    infection = p["beta"] * s * i
    recovery = p["gamma"] * i
    return dynsim.stack_states([-infection, infection - recovery, recovery], like=y)


def jacobian(t, y, p):
    s, i = y[..., 0], y[..., 1]
    b, g = p["beta"], p["gamma"]
    return dynsim.stack_jacobian([[-b * i, -b * s, 0.0],
                                  [b * i, b * s - g, 0.0],
                                  [0.0, g, 0.0]], like=y)


def total(y, p):
    """S + I + R, the conserved total population."""
    return y[..., 0] + y[..., 1] + y[..., 2]


@dynsim.hookimpl
def dynsim_register_systems(register):
    register(dynsim.System(
        name="sir", title="SIR epidemic", states=["S", "I", "R"],
        params={"beta": dynsim.Param(0.3, min=0.0, max=5.0, description="infection rate"),
                "gamma": dynsim.Param(0.1, min=0.0, max=5.0, description="recovery rate")},
        rhs=rhs, jacobian=jacobian, invariant=total,
        bounds={"S": (0.0, 1.0), "I": (0.0, 1.0), "R": (0.0, 1.0)}, y0=(0.99, 0.01, 0.0),
        tags=("population", "epidemic"),
        description="dS = -beta S I, dI = beta S I - gamma I, dR = gamma I (fractions)"))
