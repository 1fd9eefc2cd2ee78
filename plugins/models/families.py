"""The built-in model families: mlp, hamiltonian, augmented, hybrid.

Each is a config dataclass (its defaults are the family's defaults) and a `build(config,
dims)` that imports torch only when it runs, so loading plugins never imports torch.
"""

from dataclasses import dataclass, field

import dynsim


@dataclass(frozen=True)
class MLPConfig:
    """f(y), or f(t, y) with time_dependent, as an MLP on normalised states."""

    width: int = 64
    depth: int = 2
    activation: str = "tanh"
    time_dependent: bool = False


def build_mlp(config, dims):
    from dynsim import learn

    return learn.nets.FieldMLP(dims, config.width, config.depth, config.activation,
                               config.time_dependent)


@dataclass(frozen=True)
class HamiltonianConfig:
    """A scalar network H(q, p); the field is J grad H (states: q's, then p's)."""

    width: int = 64
    depth: int = 2
    activation: str = "tanh"


def build_hamiltonian(config, dims):
    from dynsim import learn

    return learn.nets.HamiltonianField(dims, config.width, config.depth, config.activation)


@dataclass(frozen=True)
class AugmentedConfig:
    """An MLP field on the states plus `augment` extra states that start at zero."""

    width: int = 64
    depth: int = 2
    activation: str = "tanh"
    augment: int = 2


def build_augmented(config, dims):
    from dynsim import learn

    if config.augment < 1:
        raise dynsim.DynsimError(f"augment must be >= 1, got {config.augment}")
    return learn.nets.FieldMLP(dims, config.width, config.depth, config.activation,
                               augment=config.augment)


@dataclass(frozen=True)
class HybridConfig:
    """f_known(y; p) + NN(y): `system` (a registered name) or `equations` ({state: rhs}),
    `params` (values; learned too with learn_params), and the correction's size."""

    system: str = ""
    equations: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    learn_params: bool = False
    width: int = 32
    depth: int = 2
    activation: str = "tanh"


def build_hybrid(config, dims):
    from dynsim import learn

    known = learn.nets.KnownField(learn.known_system(config.system, config.equations,
                                                     config.params, dims.states),
                                  config.params, config.learn_params)
    correction = learn.nets.FieldMLP(dims, config.width, config.depth, config.activation,
                                     zero_last=True)
    return learn.nets.HybridField(known, correction)


FAMILIES = [
    dynsim.ModelFamily("mlp", MLPConfig, build_mlp,
                       "the vector field as an MLP on normalised states"),
    dynsim.ModelFamily("hamiltonian", HamiltonianConfig, build_hamiltonian,
                       "Hamiltonian neural network: J grad H of a learned scalar H(q, p)"),
    dynsim.ModelFamily("augmented", AugmentedConfig, build_augmented,
                       "augmented Neural ODE: extra zero-initialised states"),
    dynsim.ModelFamily("hybrid", HybridConfig, build_hybrid,
                       "a known system plus a learned correction (universal ODE)"),
]


@dynsim.hookimpl
def dynsim_register_models(register):
    for family in FAMILIES:
        register(family)
