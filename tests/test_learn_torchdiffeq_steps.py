"""The adaptive methods take torchdiffeq's steps and give its numbers: the same accepted
steps, the same number of func calls and the same outputs between steps (its quartic
dense output, stepping past the last output time), to ~1e-10 in float64. torchdiffeq is
the reference."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torchdiffeq = pytest.importorskip("torchdiffeq")

import dynsim.learn as ours  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

F64 = torch.float64
MATCHING = ("dopri5", "bosh3", "fehlberg2", "adaptive_heun")


class Pendulum(torch.nn.Module):
    """A forced pendulum on (..., 2); records its calls and accepted steps."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(1.3, dtype=F64))
        self.calls, self.steps = 0, []

    def forward(self, t, y):
        self.calls += 1
        return torch.stack([y[..., 1], -self.w * torch.sin(y[..., 0]) + 0.3 * torch.cos(t)],
                           -1)

    def callback_accept_step(self, t0, y0, dt):
        self.steps.append((float(t0), float(dt)))


def solve(lib, y0, t, **kwargs):
    func = Pendulum()
    with torch.no_grad():
        out = lib.odeint(func, y0, t, **kwargs)
    return out, func


@pytest.mark.parametrize("method", MATCHING)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("rtol", [1e-4, 1e-6])
def test_same_steps_calls_and_outputs_as_torchdiffeq(method, reverse, rtol):
    y0 = torch.tensor([[1.0, 0.2], [-0.5, 1.5]], dtype=F64)
    t = torch.linspace(0.0, 6.0, 61, dtype=F64)  # many outputs inside each step
    t = t.flip(0) if reverse else t
    (a, fa), (b, fb) = (solve(lib, y0, t, method=method, rtol=rtol, atol=rtol * 1e-2)
                        for lib in (ours, torchdiffeq))
    assert fa.calls == fb.calls
    assert len(fa.steps) == len(fb.steps)
    torch.testing.assert_close(torch.tensor(fa.steps, dtype=F64),
                               torch.tensor(fb.steps, dtype=F64), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("method", MATCHING)
def test_steps_pass_the_last_output_time_as_in_torchdiffeq(method):
    y0 = torch.tensor([1.0, 0.2], dtype=F64)
    t = torch.tensor([0.0, 2.5], dtype=F64)
    (_, fa), (_, fb) = (solve(lib, y0, t, method=method, rtol=1e-5)
                        for lib in (ours, torchdiffeq))
    end = fa.steps[-1][0] + fa.steps[-1][1]
    assert end > 2.5
    assert end == pytest.approx(fb.steps[-1][0] + fb.steps[-1][1], rel=1e-9)


def test_max_num_steps_counts_the_steps_to_each_output_time_as_torchdiffeq():
    from dynsim.core.errors import IntegrationError

    y0 = torch.tensor([1.0, 0.2], dtype=F64)
    many = torch.linspace(0.0, 6.0, 61, dtype=F64)  # each interval takes a step or two
    options = {"max_num_steps": 4}
    (a, fa), (b, _) = (solve(lib, y0, many, rtol=1e-6, options=options)
                       for lib in (ours, torchdiffeq))
    assert len(fa.steps) > 4
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    with pytest.raises(IntegrationError, match="max_num_steps = 4"):
        solve(ours, y0, many[[0, -1]], rtol=1e-6, options=options)
    with pytest.raises(AssertionError, match="max_num_steps"):
        solve(torchdiffeq, y0, many[[0, -1]], rtol=1e-6, options=options)


def test_dopri8_takes_the_same_number_of_steps():
    """dopri8's first error estimate is near rounding (its weights are large), so the size of
    its second step depends on the CPU's rounding (0.5 % apart on an AMD EPYC, 1e-6 on
    another machine); the number of steps and calls is the same, and the two solutions are
    equally accurate and far closer to each other than to the exact one."""
    y0 = torch.tensor([1.0, 0.2], dtype=F64)
    t = torch.linspace(0.0, 6.0, 31, dtype=F64)
    (a, fa), (b, fb) = (solve(lib, y0, t, method="dopri8", rtol=1e-7, atol=1e-9)
                        for lib in (ours, torchdiffeq))
    exact, _ = solve(torchdiffeq, y0, t, method="dopri8", rtol=1e-13, atol=1e-14)
    assert fa.calls == fb.calls
    assert len(fa.steps) == len(fb.steps)
    theirs_error = float((b - exact).abs().max())
    assert float((a - exact).abs().max()) < 1.2 * theirs_error
    assert float((a - b).abs().max()) < 0.1 * theirs_error


@pytest.mark.parametrize("method", ["fehlberg2", "adaptive_heun"])
def test_fehlberg2_and_adaptive_heun_make_torchdiffeqs_calls_per_step(method):
    """torchdiffeq starts each step from the last stage (at the embedded solution): 2 new
    calls per fehlberg2 step, 1 per adaptive_heun step."""
    y0 = torch.tensor([1.0, 0.2], dtype=F64)
    _, func = solve(ours, y0, torch.tensor([0.0, 3.0], dtype=F64), method=method, rtol=1e-5)
    per_step = {"fehlberg2": 2, "adaptive_heun": 1}[method]
    attempts = func.calls - 2  # f(t0, y0) and the initial step's trial call
    assert attempts % per_step == 0 and attempts // per_step >= len(func.steps)


@pytest.mark.parametrize("method", MATCHING)
def test_tuple_states_take_the_same_steps(method):
    y0 = (torch.tensor([1.0, -0.4], dtype=F64), torch.tensor([0.2, 0.9], dtype=F64))

    class TupleField(Pendulum):
        def forward(self, t, y):
            out = super().forward(t, torch.stack(y, -1))
            return out[..., 0], out[..., 1]

    outs = []
    for lib in (ours, torchdiffeq):
        func = TupleField()
        with torch.no_grad():
            outs.append((lib.odeint(func, y0, torch.linspace(0.0, 4.0, 21, dtype=F64),
                                    method=method, rtol=1e-5, atol=1e-7), func.calls))
    assert outs[0][1] == outs[1][1]
    for a, b in zip(outs[0][0], outs[1][0], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("method", MATCHING)
def test_step_t_and_jump_t_take_the_same_steps(method):
    y0 = torch.tensor([1.0, 0.2], dtype=F64)
    t = torch.linspace(0.0, 4.0, 9, dtype=F64)
    options = {"step_t": torch.tensor([0.33, 1.7]), "jump_t": torch.tensor([2.25])}
    (a, fa), (b, fb) = (solve(lib, y0, t, method=method, rtol=1e-5, atol=1e-7,
                              options=options) for lib in (ours, torchdiffeq))
    assert fa.calls == fb.calls
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("method", MATCHING)
def test_backprop_gradients_match_torchdiffeq(method):
    """With the first step given, torchdiffeq's gradients are those of its steps held fixed,
    as dynsim's: they agree to rounding. Otherwise torchdiffeq also differentiates its first
    step size (chosen from y0), a term of the tolerance's size."""
    t = torch.linspace(0.0, 3.0, 7, dtype=F64)

    def gradients(lib, options):
        func = Pendulum()
        y0 = torch.tensor([1.0, 0.2], dtype=F64, requires_grad=True)
        lib.odeint(func, y0, t, method=method, rtol=1e-6, atol=1e-8,
                   options=options).square().sum().backward()
        return torch.cat([y0.grad, func.w.grad.reshape(1)])

    fixed = {"first_step": 0.01}
    torch.testing.assert_close(gradients(ours, fixed), gradients(torchdiffeq, fixed),
                               rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(gradients(ours, None), gradients(torchdiffeq, None),
                               rtol=1e-4, atol=1e-6)


def test_the_dtype_option_computes_times_in_float32_as_torchdiffeq():
    """Far from t = 0, float32 times (options['dtype']) change the result by far more than
    the solvers differ: dynsim's follows torchdiffeq's in both settings."""

    def f(t, y):
        return 0.1 * torch.cos(t) * y + torch.sin(3 * t)

    y0 = torch.tensor([1.0], dtype=torch.float32)
    t = torch.linspace(3000.0, 3004.0, 5, dtype=torch.float32)
    kwargs = dict(rtol=1e-3, atol=1e-5)
    with torch.no_grad():
        ours32 = ours.odeint(f, y0, t, options={"dtype": torch.float32}, **kwargs)
        theirs32 = torchdiffeq.odeint(f, y0, t, options={"dtype": torch.float32}, **kwargs)
        ours64 = ours.odeint(f, y0, t, **kwargs)
        theirs64 = torchdiffeq.odeint(f, y0, t, **kwargs)
    effect = (theirs32 - theirs64).abs().max()
    assert effect > 1e-3
    assert (ours32 - theirs32).abs().max() < 0.02 * effect
    assert (ours64 - theirs64).abs().max() < 0.1 * effect
    # a float64 state keeps float64 times (torchdiffeq promotes the dtype to the state's)
    y64 = y0.double()
    with torch.no_grad():
        a = ours.odeint(f, y64, t.double(), options={"dtype": torch.float32}, **kwargs)
        b = torchdiffeq.odeint(f, y64, t.double(), options={"dtype": torch.float32}, **kwargs)
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
