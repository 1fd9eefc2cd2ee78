"""compare: the learned-against-true report, checked on fields whose answers are known."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

import dynsim
from dynsim.learn import compare


def scaled_lotka_volterra(factor: float) -> dynsim.System:
    true = dynsim.system("lotka_volterra")
    values = true.parameter_values()
    return replace(true, name="copy", params={},
                   rhs=lambda t, y, p: factor * true.rhs(t, y, values),
                   jacobian=lambda t, y, p: factor * true.jacobian(t, y, values))


def test_the_true_field_itself_compares_perfectly():
    report = compare(scaled_lotka_volterra(1.0), "lotka_volterra", box={"x": (0.5, 3),
                                                                       "y": (0.5, 3)},
                     horizon=5, starts=4)
    assert report.field_relative == 0.0 and report.field_cosine == pytest.approx(1.0)
    assert report.trajectory_rmse < 1e-9
    (match,) = report.equilibria
    assert match.distance < 1e-9 and match.learned.classification == "center"
    assert report.invariant_drift == pytest.approx(report.invariant_drift_true, rel=1e-3)


def test_a_scaled_field_has_that_relative_error_and_cosine_one():
    report = compare(scaled_lotka_volterra(1.1), "lotka_volterra", horizon=5, starts=4)
    assert report.field_relative == pytest.approx(0.1, rel=1e-9)
    assert report.field_cosine == pytest.approx(1.0)
    center = next(m for m in report.equilibria if m.true.classification == "center")
    assert np.allclose(center.learned.eigenvalues, 1.1 * center.true.eigenvalues, atol=1e-6)
    assert report.trajectory_rmse > 1e-3
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["field"]["relative_error"] == pytest.approx(0.1)
    assert "equilibria (true -> learned):" in report.lines()
