import numpy as np
import dynsim

def brusselator(t, y, p):
    u, v = y[..., 0], y[..., 1]
    return np.stack([p["a"] + u * u * v - (p["b"] + 1) * u, p["b"] * u - u * u * v], axis=-1)

@dynsim.hookimpl
def dynsim_register_systems(register):
    register(dynsim.System(
        name="brusselator",
        states=["u", "v"],
        params={"a": dynsim.Param(1.0, min=0.0, max=5.0),
                "b": dynsim.Param(3.0, min=0.0, max=5.0, description="feed rate")},
        rhs=brusselator,
        description="Brusselator chemical oscillator",
    ))
