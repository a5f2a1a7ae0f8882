"""Batch norm and dropout: gradients, running statistics, training and evaluation."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from compgraph.errors import ShapeMismatchError
from compgraph.gradcheck import check_gate
from compgraph.graph import ComputationalGraph
from gates.normalization import BatchNormGate, DropoutGate


def batch_norm_reference(x, gamma, beta, eps):
    """Training-mode batch norm, feature by feature, with explicit loops."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    for k in range(x.shape[1]):
        values = x[:, k]
        mean = values.sum() / values.size
        var = ((values - mean) ** 2).sum() / values.size
        out[:, k] = gamma[k] * (values - mean) / np.sqrt(var + eps) + beta[k]
    return out


@st.composite
def batch_norm_problems(draw, min_batch=2):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, features = draw(st.integers(min_batch, 4)), draw(st.integers(1, 3))
    if draw(st.booleans()):
        shape = (n, features)
    else:
        shape = (n, features, draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    scale = draw(st.sampled_from([1e-2, 1.0, 1e2]))
    return dict(
        x=rng.normal(size=shape) * scale + rng.normal(),
        gamma=rng.normal(size=features),
        beta=rng.normal(size=features),
        seed=int(rng.integers(1000)),
        # A finite-difference step in proportion to x: a step of 1e-6 on
        # values near 100 loses the difference to round-off.
        h=1e-6 * max(1.0, scale),
    )


def assert_close_to_numerical(report):
    """No input fails, and every element agrees to the round-off of the output sum."""
    assert report.passed, str(report)
    for check in report.checks:
        scale = max(1.0, float(np.abs(check.numeric).max(initial=0.0)))
        gap = float(np.abs(check.analytic - check.numeric).max(initial=0.0))
        assert gap < 1e-6 * scale, str(report)


# -- BatchNormGate: gradients -------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(batch_norm_problems())
def test_batch_norm_training_gradients_match_finite_differences(p):
    # Two values per feature normalize to -1 and +1 whatever x is: the input
    # gradient is of order eps, below the finite differences' round-off.
    assume(p["x"].size // p["x"].shape[1] >= 3)
    gate = BatchNormGate()
    report = check_gate(gate, p["x"], p["gamma"], p["beta"], seed=p["seed"], h=p["h"])
    assert_close_to_numerical(report)


@settings(max_examples=20, deadline=None)
@given(batch_norm_problems(min_batch=1))
def test_batch_norm_eval_gradients_match_finite_differences(p):
    rng = np.random.default_rng(p["seed"])
    features = p["gamma"].size
    gate = BatchNormGate()
    gate.load_state_dict(
        {
            "running_mean": rng.normal(size=features),
            "running_var": rng.uniform(0.1, 3.0, size=features),
        }
    )
    gate.training = False
    report = check_gate(gate, p["x"], p["gamma"], p["beta"], seed=p["seed"], h=p["h"])
    assert_close_to_numerical(report)


def test_batch_norm_c15_input_gradient_exact_values():
    gate = BatchNormGate(eps=1e-5)
    gate.forward(np.array([[1.0], [2.0], [3.0], [4.0]]), np.ones(1), np.zeros(1))
    dx, dgamma, dbeta = gate.backward(np.array([[0.5], [-1.0], [2.0], [0.25]]))
    want = [0.3577670304, -1.1851120926, 1.2969150443, -0.4695699821]
    np.testing.assert_allclose(dx.ravel(), want, rtol=0, atol=1e-10)
    np.testing.assert_allclose(dbeta, [1.75])


def test_batch_norm_c15_all_ones_upstream_gives_zero_and_proves_nothing():
    # The input gradient sums to zero per feature, so with an upstream of ones
    # it is exactly 0: a gate that returned zeros would agree. The gradient
    # checks above draw random upstream gradients for that reason.
    gate = BatchNormGate(eps=1e-5)
    gate.forward(np.array([[1.0], [2.0], [3.0], [4.0]]), np.ones(1), np.zeros(1))
    dx = gate.backward(np.ones((4, 1)))[0]
    np.testing.assert_allclose(dx, 0.0, atol=1e-15)


def test_batch_norm_c14_batch_of_one_in_training_is_refused_with_the_reason():
    gate = BatchNormGate()
    with pytest.raises(ValueError, match=r"one value per feature.*variance is 0.*eval"):
        gate.forward(np.array([[3.0]]), np.ones(1), np.zeros(1))
    assert gate.running_mean.tolist() == [0.0]  # nothing was learned from it


def test_batch_norm_c14_in_a_graph_names_the_gate_and_the_real_reason():
    g = ComputationalGraph()
    x = g.input("x")
    gamma, beta = g.parameter("gamma", np.ones(1)), g.parameter("beta", np.zeros(1))
    g.add_gate(BatchNormGate(), [x, gamma, beta], name="bn1")

    with pytest.raises(
        ShapeMismatchError,
        match=r"gate 'bn1' \(BatchNormGate, BN\) in forward refused inputs of shapes "
        r"x \(1, 1\).*one value per feature, whose batch variance is 0",
    ):
        g.forward(x=np.array([[3.0]]))


def test_batch_norm_c14_batch_of_one_in_eval_uses_running_statistics():
    gate = BatchNormGate()
    gate.training = False
    out = gate.forward(np.array([[3.0]]), np.ones(1), np.zeros(1))
    dx = gate.backward(np.array([[1.0]]))[0]
    # Fresh running statistics: mean 0, variance 1.
    np.testing.assert_allclose(out, [[3.0 / np.sqrt(1 + 1e-5)]])
    np.testing.assert_allclose(dx, [[1.0 / np.sqrt(1 + 1e-5)]])


def test_batch_norm_spatial_batch_of_one_sample_trains_over_its_pixels():
    x = np.arange(8.0).reshape(1, 2, 2, 2)
    out = BatchNormGate().forward(x, np.ones(2), np.zeros(2))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)


# -- BatchNormGate: values against references ---------------------------------


@settings(max_examples=20, deadline=None)
@given(batch_norm_problems())
def test_batch_norm_training_matches_loop_reference(p):
    x, gamma, beta = p["x"], p["gamma"], p["beta"]
    got = BatchNormGate().forward(x, gamma, beta)
    if x.ndim == 4:  # per channel over (N, H, W): move channels to axis 1 of 2-D
        flat = x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])
        want = batch_norm_reference(flat, gamma, beta, 1e-5)
        want = want.reshape(x.shape[0], x.shape[2], x.shape[3], -1)
        want = want.transpose(0, 3, 1, 2)
    else:
        want = batch_norm_reference(x, gamma, beta, 1e-5)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 3)])
def test_batch_norm_matches_torch_in_training_and_eval(shape):
    torch = pytest.importorskip("torch", reason="torch is the reference batch norm")
    functional = torch.nn.functional
    rng = np.random.default_rng(11)
    gamma, beta = rng.normal(size=3), rng.normal(size=3)
    gate = BatchNormGate(momentum=0.2, eps=1e-3)
    running_mean, running_var = torch.zeros(3, dtype=torch.float64), torch.ones(3)
    running_var = running_var.double()

    for _ in range(3):  # training steps update the running statistics
        x = rng.normal(size=shape) * 2 + 1
        upstream = rng.normal(size=shape)
        out = gate.forward(x, gamma, beta)
        grads = gate.backward(upstream)
        tensors = [torch.tensor(v, requires_grad=True) for v in (x, gamma, beta)]
        ref = functional.batch_norm(
            tensors[0], running_mean, running_var, tensors[1], tensors[2],
            training=True, momentum=0.2, eps=1e-3,
        )  # fmt: skip
        ref.backward(torch.tensor(upstream))
        np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-10, atol=1e-10)
        for grad, tensor in zip(grads, tensors):
            np.testing.assert_allclose(grad, tensor.grad.numpy(), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(gate.running_mean, running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(gate.running_var, running_var.numpy(), rtol=1e-12)

    gate.training = False
    x = rng.normal(size=shape)
    ref = functional.batch_norm(
        torch.tensor(x), running_mean, running_var, torch.tensor(gamma),
        torch.tensor(beta), training=False, eps=1e-3,
    )  # fmt: skip
    np.testing.assert_allclose(gate.forward(x, gamma, beta), ref.numpy(), rtol=1e-10)


def test_batch_norm_running_statistics_use_momentum_and_unbiased_variance():
    gate = BatchNormGate(momentum=0.1)
    x = np.array([[1.0, 10.0], [2.0, 10.0], [6.0, 10.0]])
    gate.forward(x, np.ones(2), np.zeros(2))
    # feature 0: mean 3, unbiased variance ((-2)**2 + 1 + 9) / 2 = 7
    np.testing.assert_allclose(gate.running_mean, [0.9 * 0 + 0.1 * 3, 0.1 * 10])
    np.testing.assert_allclose(gate.running_var, [0.9 * 1 + 0.1 * 7, 0.9 * 1 + 0])


def test_batch_norm_eval_uses_running_statistics_and_does_not_update_them():
    gate = BatchNormGate()
    gate.load_state_dict({"running_mean": [1.0, -2.0], "running_var": [4.0, 0.25]})
    gate.training = False
    x = np.array([[3.0, -1.0], [1.0, -2.0]])
    out = gate.forward(x, np.array([2.0, 1.0]), np.array([0.5, 0.0]))
    want = [[2.0 * 2 / np.sqrt(4 + 1e-5) + 0.5, 1 / np.sqrt(0.25 + 1e-5)], [0.5, 0.0]]
    np.testing.assert_allclose(out, want)
    np.testing.assert_array_equal(gate.running_mean, [1.0, -2.0])
    np.testing.assert_array_equal(gate.running_var, [4.0, 0.25])


def test_batch_norm_follows_the_graph_training_flag():
    graph = ComputationalGraph()
    x = graph.input("x")
    gamma, beta = graph.parameter("gamma", np.ones(1)), graph.parameter("beta", [0.0])
    graph.add_gate(BatchNormGate(), [x, gamma, beta], name="bn")
    batch = np.array([[1.0], [3.0]])
    np.testing.assert_allclose(graph.forward(x=batch).ravel(), [-1, 1], atol=1e-5)
    graph.eval()
    # running mean 0.2, running variance 0.9 + 0.1 * 2 = 1.1
    want = (batch - 0.2) / np.sqrt(1.1 + 1e-5)
    np.testing.assert_allclose(graph.forward(x=batch), want)


def test_batch_norm_keeps_float32_in_float32():
    x = np.random.default_rng(0).normal(size=(4, 3, 2, 2)).astype(np.float32)
    ones, zeros = np.ones(3, np.float32), np.zeros(3, np.float32)
    gate = BatchNormGate()
    out = gate.forward(x, ones, zeros)
    grads = gate.backward(np.ones_like(out))
    assert out.dtype == np.float32
    assert [g.dtype for g in grads] == [np.float32] * 3


# -- BatchNormGate: buffers and errors -----------------------------------------


def test_batch_norm_state_dict_round_trips_exactly():
    gate = BatchNormGate()
    assert gate.state_dict() == {}  # no feature count yet
    rng = np.random.default_rng(3)
    gate.forward(rng.normal(size=(6, 2)), np.ones(2), np.zeros(2))
    state = gate.state_dict()
    other = BatchNormGate(num_features=2)
    other.load_state_dict(state)
    for name in ("running_mean", "running_var"):
        np.testing.assert_array_equal(getattr(other, name), state[name])
    state["running_mean"][0] = 99.0  # a copy: the gate is not changed
    assert gate.running_mean[0] != 99.0


@pytest.mark.parametrize(
    "state, match",
    [
        ({"running_mean": [0.0]}, r"expected exactly .* missing \['running_var'\]"),
        (
            {"running_mean": [0.0], "running_var": [1.0], "mean": [0.0]},
            r"expected exactly .* unexpected \['mean'\]",
        ),
        ({"running_mean": [0.0, 1.0], "running_var": [1.0]}, r"'running_mean' has "),
        ({"running_mean": [0.0], "running_var": [[1.0]]}, r"'running_var' has shape"),
        (
            {"running_mean": [np.nan], "running_var": [1.0]},
            r"'running_mean' has non-finite values",
        ),
        (
            {"running_mean": [0.0], "running_var": [-1.0]},
            r"'running_var' has negative values",
        ),
    ],
)
def test_batch_norm_load_state_dict_refuses_bad_state(state, match):
    gate = BatchNormGate(num_features=1)
    with pytest.raises(ValueError, match=r"BatchNormGate.load_state_dict: " + match):
        gate.load_state_dict(state)
    np.testing.assert_array_equal(gate.running_var, [1.0])


def test_batch_norm_load_state_dict_checks_the_feature_count():
    gate = BatchNormGate(num_features=3)
    state = {"running_mean": np.zeros(2), "running_var": np.ones(2)}
    with pytest.raises(ValueError, match=r"'running_mean' has shape \(2,\), expected"):
        gate.load_state_dict(state)


@pytest.mark.parametrize(
    "x_shape, gamma_shape, match",
    [
        ((4, 2, 3), (2,), r"x must have shape \(N, D\) or \(N, C, H, W\)"),
        ((4, 2), (3,), r"gamma must have shape \(2,\).*got shape \(3,\)"),
        ((4, 3), (3,), r"the running statistics are for 2 features but x"),
    ],
)
def test_batch_norm_rejects_bad_shapes(x_shape, gamma_shape, match):
    gate = BatchNormGate(num_features=2)
    with pytest.raises(ValueError, match=r"BatchNormGate: " + match):
        gate.forward(np.ones(x_shape), np.ones(gamma_shape), np.zeros(gamma_shape))


def test_batch_norm_rejects_bad_hyper_parameters():
    with pytest.raises(ValueError, match=r"momentum must be a number in \[0, 1\]"):
        BatchNormGate(momentum=1.5)
    with pytest.raises(ValueError, match=r"eps must be positive, got 0"):
        BatchNormGate(eps=0)


# -- DropoutGate ----------------------------------------------------------------


def test_dropout_drops_a_fraction_p_and_scales_the_rest():
    gate = DropoutGate(p=0.3, seed=0)
    out = gate.forward(np.ones(200_000))
    dropped = np.mean(out == 0)
    assert abs(dropped - 0.3) < 0.005  # 5 standard deviations of the fraction
    np.testing.assert_allclose(out[out != 0], 1 / 0.7)
    assert abs(out.mean() - 1.0) < 0.01  # inverted dropout keeps the mean


def test_dropout_draws_a_new_mask_at_every_forward():
    gate = DropoutGate(p=0.5, seed=1)
    first = gate.forward(np.ones(100))
    second = gate.forward(np.ones(100))
    assert not np.array_equal(first, second)


def test_dropout_is_reproducible_with_a_seed():
    def masks(seed):
        gate = DropoutGate(p=0.5, seed=seed)
        return [gate.forward(np.ones(50)) for _ in range(3)]

    for a, b in zip(masks(7), masks(7)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(masks(7), masks(8)))


def test_dropout_backward_uses_the_forward_mask():
    gate = DropoutGate(p=0.4, seed=2)
    x = np.random.default_rng(0).normal(size=(5, 6))
    out = gate.forward(x)
    upstream = np.random.default_rng(1).normal(size=(5, 6))
    np.testing.assert_array_equal(gate.backward(upstream)[0], upstream * gate.mask)
    np.testing.assert_array_equal(out, x * gate.mask)


def test_dropout_is_the_identity_in_eval():
    gate = DropoutGate(p=0.9, seed=0)
    gate.training = False
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(gate.forward(x), x)
    np.testing.assert_array_equal(gate.backward(x + 1)[0], x + 1)


def test_dropout_follows_the_graph_training_flag():
    graph = ComputationalGraph()
    graph.add_gate(DropoutGate(p=0.5, seed=0), [graph.input("x")])
    assert np.any(graph.forward(x=np.ones(64)) == 0)
    graph.eval()
    np.testing.assert_array_equal(graph.forward(x=np.ones(64)), np.ones(64))


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.integers(1, 4), min_size=1, max_size=3),
    st.sampled_from([0.0, 0.2, 0.5, 0.8]),
    st.integers(0, 1000),
)
def test_dropout_gradients_match_finite_differences_with_a_frozen_mask(shape, p, seed):
    gate = DropoutGate(p=p, seed=seed).freeze()
    x = np.random.default_rng(seed).normal(size=shape)
    assert_close_to_numerical(check_gate(gate, x, seed=seed))


def test_dropout_gradient_check_without_a_frozen_mask_fails():
    # Each numerical forward draws a new mask: the check compares two
    # different functions, which is why freeze() exists.
    gate = DropoutGate(p=0.5, seed=0)
    report = check_gate(gate, np.random.default_rng(0).normal(size=40))
    # The jumps between masks look like kinks to the checker; either way the
    # two gradients disagree.
    assert report["x0"].verdict in ("fail", "kink")
    assert report["x0"].worst_error > 1e-4


def test_dropout_freeze_keeps_the_mask_until_unfreeze():
    gate = DropoutGate(p=0.5, seed=3).freeze()
    first = gate.forward(np.ones(30))
    np.testing.assert_array_equal(gate.forward(np.ones(30)), first)
    gate.unfreeze()
    assert not np.array_equal(gate.forward(np.ones(30)), first)


def test_dropout_frozen_mask_refuses_another_shape():
    gate = DropoutGate(p=0.5, seed=3).freeze()
    gate.forward(np.ones(4))
    with pytest.raises(ValueError, match=r"frozen mask has shape \(4,\) but x has"):
        gate.forward(np.ones(5))


def test_dropout_keeps_float32_and_python_floats():
    gate = DropoutGate(p=0.5, seed=0)
    assert gate.forward(np.ones(10, np.float32)).dtype == np.float32
    assert isinstance(gate.forward(2.0), float)
    assert gate.forward(2.0) in (0.0, 4.0)


@pytest.mark.parametrize("p", [-0.1, 1, 1.5, "0.5", None])
def test_dropout_rejects_bad_probabilities(p):
    with pytest.raises(ValueError, match=r"DropoutGate: p .* must be in \[0, 1\)"):
        DropoutGate(p=p)


def test_normalization_gates_have_symbols():
    assert BatchNormGate().label == "BN"
    assert DropoutGate().label == "dropout"
