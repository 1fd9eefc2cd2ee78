"""Torch building blocks of the built-in model families (and of third-party ones).

Every field is an `nn.Module` called as `field(t, y)` with `y` of shape (..., D) that returns
dy/dt of the same shape; it acts on each row of `y` independently. Inputs are normalised
with the data's mean and scale and outputs scaled by the data's typical |dy/dt|
(`dynsim.ModelDims`), so the weights stay of order one whatever the units.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from dynsim.core.errors import InputError
from dynsim.core.model_family import ModelDims
from dynsim.core.system import System

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "tanh": nn.Tanh, "softplus": nn.Softplus, "silu": nn.SiLU, "gelu": nn.GELU,
    "elu": nn.ELU, "relu": nn.ReLU, "sigmoid": nn.Sigmoid,
}
"""Activation names the built-in families accept."""


def mlp(n_in: int, n_out: int, width: int, depth: int, activation: str = "tanh",
        zero_last: bool = False) -> nn.Sequential:
    """An MLP n_in -> width (x depth hidden layers) -> n_out; `zero_last` zeroes the output
    layer, so the network starts as the zero function."""
    if activation not in ACTIVATIONS:
        raise InputError(f"unknown activation '{activation}'; known: {', '.join(ACTIVATIONS)}")
    if width < 1 or depth < 1:
        raise InputError(f"width and depth must be >= 1, got {width} and {depth}")
    layers: list[nn.Module] = []
    size = n_in
    for _ in range(depth):
        layers += [nn.Linear(size, width), ACTIVATIONS[activation]()]
        size = width
    last = nn.Linear(size, n_out)
    if zero_last:
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    return nn.Sequential(*layers, last)


class Scales(nn.Module):
    """The data's scales as buffers: `normalise(y)` and `scale_out(z)`."""

    def __init__(self, dims: ModelDims, extra: int = 0) -> None:
        super().__init__()
        pad = [0.0] * extra
        self.register_buffer("mean", torch.tensor([*dims.y_mean, *pad], dtype=torch.float64))
        self.register_buffer("scale", torch.tensor([*dims.y_scale, *([1.0] * extra)],
                                                   dtype=torch.float64))
        rate = float(np.mean(dims.dy_scale))
        self.register_buffer("rate", torch.tensor([*dims.dy_scale, *([rate] * extra)],
                                                  dtype=torch.float64))
        self.t_scale = dims.t_scale

    def normalise(self, y: torch.Tensor) -> torch.Tensor:
        """(y - mean) / scale."""
        return (y - self.mean) / self.scale

    def scale_out(self, z: torch.Tensor) -> torch.Tensor:
        """z times the typical |dy/dt| of each state."""
        return z * self.rate


class FieldMLP(nn.Module):
    """f(y) (or f(t, y) with `time_dependent`) as an MLP on normalised states."""

    def __init__(self, dims: ModelDims, width: int, depth: int, activation: str = "tanh",
                 time_dependent: bool = False, augment: int = 0,
                 zero_last: bool = False) -> None:
        super().__init__()
        self.augment = augment
        self.time_dependent = time_dependent
        size = dims.dimension + augment
        self.scales = Scales(dims, augment)
        self.net = mlp(size + int(time_dependent), size, width, depth, activation, zero_last)

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        z = self.scales.normalise(y)
        if self.time_dependent:
            tt = torch.as_tensor(t, dtype=y.dtype, device=y.device) / self.scales.t_scale
            z = torch.cat([z, tt.expand(*y.shape[:-1], 1)], dim=-1)
        return self.scales.scale_out(self.net(z))


class HamiltonianField(nn.Module):
    """A Hamiltonian neural network (Greydanus et al. 2019): a scalar H(q, p), field J grad H.

    The state is (q, p), the first half positions, the second momenta (D even). The field
    is s * (dH/dp, -dH/dq) with one positive scalar s from the data's scales, so H is
    conserved exactly along the field's own flow (up to the solver's error).
    """

    def __init__(self, dims: ModelDims, width: int, depth: int,
                 activation: str = "tanh") -> None:
        super().__init__()
        if dims.dimension % 2:
            raise InputError(f"the hamiltonian family needs an even number of states "
                             f"(q then p), got {dims.dimension}: {', '.join(dims.states)}")
        self.augment = 0
        self.scales = Scales(dims)
        self.net = mlp(dims.dimension, 1, width, depth, activation)
        self.strength = float(np.mean(np.multiply(dims.dy_scale, dims.y_scale)))

    def energy(self, y: torch.Tensor) -> torch.Tensor:
        """H(y), shape y.shape[:-1]."""
        return self.net(self.scales.normalise(y))[..., 0]

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        outer = torch.is_grad_enabled()
        with torch.enable_grad():
            y_in = y if y.requires_grad else y.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.energy(y_in).sum(), y_in, create_graph=outer)
        half = y.shape[-1] // 2
        return self.strength * torch.cat([grad[..., half:], -grad[..., :half]], dim=-1)


class KnownField(nn.Module):
    """A registered or equation `System` as a torch field, its parameters learnable if asked.

    Systems whose rhs works on tensors (equation systems) are called directly; numpy ones
    go through `_NumpyRhs`, whose backward uses the system's Jacobian (finite differences
    without one) and central differences for the parameters.
    """

    def __init__(self, system: System, params: Mapping[str, float], learn: bool) -> None:
        super().__init__()
        self.system = system
        values = system.parameter_values(params)
        self.names = tuple(values)
        tensor = torch.tensor([values[n] for n in self.names], dtype=torch.float64)
        self.values = nn.Parameter(tensor, requires_grad=learn) if learn else tensor
        self.native = _accepts_tensors(system, dict(values))

    def parameter_values(self) -> dict[str, float]:
        """The (possibly learned) parameter values by name."""
        return {n: float(v) for n, v in zip(self.names, self.values.detach().tolist(),
                                            strict=True)}

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        values = self.values.to(dtype=y.dtype, device=y.device)
        if self.native:
            p = dict(zip(self.names, values.unbind(), strict=True)) if self.names else {}
            return torch.as_tensor(self.system.rhs(t, y, p), dtype=y.dtype, device=y.device)
        t_np = np.asarray(torch.as_tensor(t).detach().cpu().double().numpy())
        return _NumpyRhs.apply(t_np, y, values, self)


def _accepts_tensors(system: System, values: dict[str, float]) -> bool:
    """Whether `system.rhs` evaluates on tensors with autograd (else numpy is bridged)."""
    y = torch.zeros(1, system.dimension, dtype=torch.float64, requires_grad=True)
    p = {k: torch.tensor(v, dtype=torch.float64) for k, v in values.items()}
    try:
        out = system.rhs(torch.tensor(0.0, dtype=torch.float64), y, p)
    except Exception:
        return False
    return isinstance(out, torch.Tensor) and out.requires_grad and out.shape == y.shape


class _NumpyRhs(torch.autograd.Function):
    """A numpy rhs inside autograd: vector-Jacobian products from the system's Jacobian."""

    @staticmethod
    def forward(ctx: Any, t: np.ndarray, y: torch.Tensor, values: torch.Tensor,
                known: KnownField) -> torch.Tensor:
        ctx.t, ctx.known = t, known
        ctx.save_for_backward(y, values)
        y_np = y.detach().cpu().double().numpy()
        out = known.system.rhs(t, y_np, _as_dict(known.names, values))
        return torch.as_tensor(np.asarray(out), dtype=y.dtype, device=y.device)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        y, values = ctx.saved_tensors
        system, names = ctx.known.system, ctx.known.names
        y_np = y.detach().cpu().double().numpy()
        g = grad.detach().cpu().double().numpy()
        p = _as_dict(names, values)
        if system.jacobian is not None:
            jac = np.asarray(system.jacobian(ctx.t, y_np, p), dtype=float)
            jac = np.broadcast_to(jac, (*y_np.shape, y_np.shape[-1]))
        else:
            from dynsim.analysis import finite_difference_jacobian

            jac = finite_difference_jacobian(lambda z: system.rhs(ctx.t, z, p), y_np)
        grad_y = torch.as_tensor(np.einsum("...i,...ij->...j", g, jac), dtype=y.dtype,
                                 device=y.device)
        grad_p = None
        if ctx.needs_input_grad[2]:
            parts = []
            for name in names:
                h = 1e-6 * max(1.0, abs(p[name]))
                up = system.rhs(ctx.t, y_np, {**p, name: p[name] + h})
                down = system.rhs(ctx.t, y_np, {**p, name: p[name] - h})
                parts.append(float(np.sum(g * (np.asarray(up) - np.asarray(down)) / (2 * h))))
            grad_p = torch.tensor(parts, dtype=values.dtype, device=values.device)
        return None, grad_y, grad_p, None


def _as_dict(names: Sequence[str], values: torch.Tensor) -> dict[str, float]:
    return dict(zip(names, values.detach().cpu().double().tolist(), strict=True))


class HybridField(nn.Module):
    """f = f_known(y; p) + NN(y): a known system plus a learned correction, which starts at
    zero (the fit starts from the known physics)."""

    def __init__(self, known: KnownField, correction: FieldMLP) -> None:
        super().__init__()
        self.augment = 0
        self.known = known
        self.correction = correction

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.known(t, y) + self.correction(t, y)


def known_system(name: str, equations: Mapping[str, str], params: Mapping[str, float],
                 states: Sequence[str]) -> System:
    """The known part of a hybrid model: registered system `name` or typed `equations`
    ({state: right-hand side}, every parameter in `params`), on the data's `states`."""
    from dynsim.core.expressions import equation_system
    from dynsim.core.simulate import get_system

    if bool(name) == bool(equations):
        raise InputError("the hybrid family needs its known part: system='NAME' (a "
                         "registered system) or equations={state: 'right-hand side'}")
    system = (equation_system("known", None, dict(equations), dict(params)) if equations
              else get_system(name))
    if tuple(system.states) != tuple(states):
        raise InputError(f"the known system's states ({', '.join(system.states)}) must be "
                         f"the data's ({', '.join(states)})")
    return system
