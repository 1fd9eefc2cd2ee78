"""Robertson's stiff chemical kinetics (H. H. Robertson, 1966).

Three species A -> B (k1), B + B -> C + B (k2), B + C -> A + C (k3): rates spanning nine
orders of magnitude make it the standard stiff test problem (E. Hairer, G. Wanner, Solving
Ordinary Differential Equations II, 2nd ed. (1996), IV.1, with k1 = 0.04, k2 = 3e7,
k3 = 1e4 and y(0) = (1, 0, 0)). The total y1 + y2 + y3 is conserved.
"""


import dynsim


def rhs(t, y, p):
    a, b, c = y[..., 0], y[..., 1], y[..., 2]
    forward = p["k1"] * a
    pairing = p["k2"] * b * b
    back = p["k3"] * b * c
    return dynsim.stack_states([-forward + back, forward - pairing - back, pairing], like=y)


def jacobian(t, y, p):
    b, c = y[..., 1], y[..., 2]
    k1, k2, k3 = p["k1"], p["k2"], p["k3"]
    return dynsim.stack_jacobian([[-k1, k3 * c, k3 * b],
                                  [k1, -2.0 * k2 * b - k3 * c, -k3 * b],
                                  [0.0, 2.0 * k2 * b, 0.0]], like=y)


def total(y, p):
    """y1 + y2 + y3, the conserved total concentration."""
    return y[..., 0] + y[..., 1] + y[..., 2]


@dynsim.hookimpl
def dynsim_register_systems(register):
    register(dynsim.System(
        name="robertson", title="Robertson kinetics", states=["y1", "y2", "y3"],
        params={"k1": dynsim.Param(0.04, min=0.0, max=1.0, description="rate of A -> B"),
                "k2": dynsim.Param(3e7, min=0.0, max=1e9, description="rate of 2B -> C + B"),
                "k3": dynsim.Param(1e4, min=0.0, max=1e6, description="rate of B + C -> A + C")},
        rhs=rhs, jacobian=jacobian, invariant=total,
        bounds={"y1": (0.0, 1.0), "y2": (0.0, 5e-5), "y3": (0.0, 1.0)}, y0=(1.0, 0.0, 0.0),
        tags=("stiff", "chemistry"),
        description="dy1 = -k1 y1 + k3 y2 y3, dy2 = k1 y1 - k2 y2^2 - k3 y2 y3, "
                    "dy3 = k2 y2^2; stiff (use radau, bdf or lsoda)"))
