import math
import warnings

import numpy as np
import pytest
from gradients import assert_gradients_pass
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from compgraph import ComputationalGraph
from compgraph.gradcheck import check_gate, check_graph, jacobian, numerical_gradient
from gates.elementwise_losses import (
    BCELossGate,
    BCEWithLogitsLossGate,
    L1LossGate,
    L2PenaltyGate,
    MSELossGate,
    SmoothL1LossGate,
)
from gates.losses import (
    HingeLossGate,
    LogSoftmaxGate,
    NLLLossGate,
    SoftmaxCrossEntropyGate,
    SoftmaxGate,
)
from gates.tensor import AffineGate

seeds = st.integers(0, 2**32 - 1)
shapes = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
reductions = st.sampled_from(["mean", "sum", "none"])
few = settings(max_examples=25, deadline=None)

CLASS_LOSSES = [SoftmaxCrossEntropyGate, NLLLossGate, HingeLossGate]
ELEMENTWISE_LOSSES = [
    MSELossGate,
    L1LossGate,
    SmoothL1LossGate,
    BCELossGate,
    BCEWithLogitsLossGate,
]


def upstream_for(out, seed):
    draw = np.random.default_rng(seed).normal(size=np.shape(out))
    return float(draw) if np.ndim(out) == 0 else draw


def classification_batch(seed, n, c, scale=1.0):
    rng = np.random.default_rng(seed)
    return scale * rng.normal(size=(n, c)), rng.integers(0, c, n)


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# -- the cases C10 to C13 -------------------------------------------------------


def test_c10_cross_entropy_of_huge_equal_logits_is_ln_2(no_warnings):
    gate = SoftmaxCrossEntropyGate()

    loss = gate.forward(np.array([1e8, 1e8]), np.array(1))
    dscores, dlabels = gate.backward(1.0)

    assert loss == pytest.approx(0.6931471805599453, rel=1e-15)
    np.testing.assert_allclose(dscores, [0.5, -0.5], rtol=1e-15)
    assert dlabels is None


def test_c11_cross_entropy_of_logits_1000_999_0(no_warnings):
    gate = SoftmaxCrossEntropyGate()

    loss = gate.forward(np.array([1000.0, 999.0, 0.0]), np.int64(0))
    dscores, _ = gate.backward(1.0)

    assert loss == pytest.approx(0.31326168751822283, rel=1e-15)
    np.testing.assert_allclose(
        dscores, [-0.2689414213699951, 0.2689414213699951, 0.0], rtol=1e-14, atol=0
    )


def test_c12_log_softmax_gradient_is_the_full_jacobian_product():
    gate = LogSoftmaxGate()
    gate.forward(np.array([0.1, 0.9]))

    (dx,) = gate.backward(np.array([1.0, 1.0]))

    np.testing.assert_allclose(dx, [0.3799489623, -0.3799489623], rtol=1e-9)


def test_c13_softmax_gradient_is_the_full_jacobian_product():
    gate = SoftmaxGate()
    gate.forward(np.array([1.0, 2.0, 3.0]))

    (first,) = gate.backward(np.array([1.0, 0.0, 0.0]))
    (ones,) = gate.backward(np.array([1.0, 1.0, 1.0]))

    np.testing.assert_allclose(
        first, [0.0819250691, -0.0220330445, -0.0598920245], rtol=1e-9
    )
    np.testing.assert_allclose(ones, 0.0, atol=1e-15)


# -- softmax and log-softmax ----------------------------------------------------


@few
@given(shape=shapes, seed=seeds, data=st.data())
def test_softmax_and_log_softmax_gradcheck_on_any_axis(shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = np.random.default_rng(seed).normal(size=shape)

    s = SoftmaxGate(axis).forward(x)
    np.testing.assert_allclose(s.sum(axis=axis), 1.0)
    np.testing.assert_allclose(LogSoftmaxGate(axis).forward(x), np.log(s), atol=1e-12)
    assert_gradients_pass(SoftmaxGate(axis), x, seed=seed)
    assert_gradients_pass(LogSoftmaxGate(axis), x, seed=seed)


def test_softmax_jacobian_is_diag_s_minus_s_s_transposed():
    x = np.array([0.5, -1.0, 2.0, 0.0])
    s = np.exp(x) / np.exp(x).sum()

    analytic, numeric = jacobian(SoftmaxGate(), x)

    np.testing.assert_allclose(analytic, np.diag(s) - np.outer(s, s), atol=1e-15)
    np.testing.assert_allclose(analytic, numeric, atol=1e-9)


def test_softmax_and_log_softmax_match_torch():
    torch = pytest.importorskip("torch", reason="torch is the reference for softmax")
    rng = np.random.default_rng(0)
    x, upstream = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    for gate, reference in (
        (SoftmaxGate(axis=0), lambda t: torch.softmax(t, dim=0)),
        (LogSoftmaxGate(axis=1), lambda t: torch.log_softmax(t, dim=1)),
    ):
        t = torch.tensor(x, requires_grad=True)
        expected = reference(t)
        expected.backward(torch.tensor(upstream, dtype=torch.float64))

        np.testing.assert_allclose(gate.forward(x), expected.detach().numpy())
        np.testing.assert_allclose(gate.backward(upstream)[0], t.grad.numpy())


@pytest.mark.parametrize("value", [1e8, -1e8, 1000.0, -1000.0, 1e308])
def test_softmax_family_is_finite_at_extreme_values(value, no_warnings):
    x = np.array([[value, 0.0, -value], [value, value, 1.0]])

    s = SoftmaxGate().forward(x)
    log_s = LogSoftmaxGate().forward(x)

    assert np.all(np.isfinite(s)) and np.allclose(s.sum(axis=1), 1.0)
    assert not np.any(np.isnan(log_s))
    np.testing.assert_allclose(s[1, :2], [0.5, 0.5] if value > 1 else [0, 0])


def test_softmax_refuses_a_scalar_and_a_bad_axis():
    with pytest.raises(ValueError, match="SoftmaxGate: needs an array"):
        SoftmaxGate().forward(2.0)
    with pytest.raises(ValueError, match="LogSoftmaxGate: axis 2 is out of range"):
        LogSoftmaxGate(axis=2).forward(np.ones((2, 3)))


# -- cross-entropy, NLL, hinge --------------------------------------------------


@few
@given(n=st.integers(1, 5), c=st.integers(2, 5), seed=seeds, reduction=reductions)
def test_softmax_cross_entropy_matches_closed_form_and_gradchecks(
    n, c, seed, reduction
):
    scores, labels = classification_batch(seed, n, c, scale=3.0)
    log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    losses = -log_probs[np.arange(n), labels]
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]

    out = SoftmaxCrossEntropyGate(reduction).forward(scores, labels)

    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
    # Scores of unit scale: a probability of 1e-6 would give a gradient below
    # what a centered difference of an O(1) loss can resolve (about 1e-10).
    gentle = scores / 3
    assert_gradients_pass(SoftmaxCrossEntropyGate(reduction), gentle, labels, seed=seed)


@few
@given(n=st.integers(1, 5), c=st.integers(2, 5), seed=seeds, reduction=reductions)
def test_nll_picks_the_labelled_log_probability_and_gradchecks(n, c, seed, reduction):
    scores, labels = classification_batch(seed, n, c)
    losses = -scores[np.arange(n), labels]
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]

    out = NLLLossGate(reduction).forward(scores, labels)

    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
    assert_gradients_pass(NLLLossGate(reduction), scores, labels, seed=seed)


@few
@given(
    n=st.integers(1, 5),
    c=st.integers(2, 5),
    seed=seeds,
    reduction=reductions,
    margin=st.sampled_from([0.5, 1.0, 2.0]),
)
def test_hinge_matches_the_lecture_formula_and_gradchecks(
    n, c, seed, reduction, margin
):
    scores, labels = classification_batch(seed, n, c)
    losses = np.array(
        [
            sum(
                max(0.0, scores[i, j] - scores[i, labels[i]] + margin)
                for j in range(c)
                if j != labels[i]
            )
            for i in range(n)
        ]
    )
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]

    out = HingeLossGate(margin, reduction).forward(scores, labels)

    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
    assert_gradients_pass(HingeLossGate(margin, reduction), scores, labels, seed=seed)


def test_hinge_lecture_example_and_its_gradient():
    gate = HingeLossGate()
    scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])

    loss = gate.forward(scores, np.array([0, 1, 2]))
    dscores, _ = gate.backward(1.0)

    assert loss == pytest.approx((2.9 + 0.0 + 12.9) / 3)
    np.testing.assert_allclose(
        dscores, np.array([[-1, 1, 0], [0, 0, 0], [1, 1, -2]]) / 3, atol=1e-15
    )


def test_hinge_at_the_kink_sends_one_half_as_centered_differences_measure():
    gate = HingeLossGate(margin=1.0)
    scores = np.array([1.0, 0.0])  # m_1 = 0 - 1 + 1 = 0: exactly on the kink

    assert gate.forward(scores, np.array(0)) == 0.0
    dscores, _ = gate.backward(1.0)
    numeric, kinks = numerical_gradient(
        lambda s: HingeLossGate(margin=1.0).forward(s, np.array(0)), scores
    )

    np.testing.assert_allclose(dscores, [-0.5, 0.5])
    np.testing.assert_allclose(numeric, dscores, atol=1e-9)
    assert kinks.all()


def test_cross_entropy_nll_and_hinge_match_torch():
    torch = pytest.importorskip("torch", reason="torch is the reference for losses")
    F = torch.nn.functional
    scores, labels = classification_batch(4, 6, 4, scale=2.0)
    target = torch.tensor(labels)
    c = scores.shape[1]
    for reduction in ("mean", "sum", "none"):
        cases = [
            (SoftmaxCrossEntropyGate(reduction), F.cross_entropy, 1.0),
            (NLLLossGate(reduction), F.nll_loss, 1.0),
            # torch divides the sum over classes by C; the lecture's loss does not.
            (HingeLossGate(1.0, reduction), F.multi_margin_loss, c),
        ]
        for gate, reference, factor in cases:
            t = torch.tensor(scores, requires_grad=True)
            expected = factor * reference(t, target, reduction=reduction)
            upstream = upstream_for(expected.detach().numpy(), 1)
            expected.backward(torch.tensor(upstream, dtype=torch.float64))

            out = gate.forward(scores, labels)
            np.testing.assert_allclose(
                out, expected.detach().numpy(), rtol=1e-12, atol=1e-14
            )
            np.testing.assert_allclose(
                gate.backward(upstream)[0], t.grad.numpy(), rtol=1e-12, atol=1e-15
            )


def test_single_sample_scores_take_a_zero_d_label():
    scores = np.array([2.0, -1.0, 0.5])
    batch = SoftmaxCrossEntropyGate().forward(scores[None], np.array([2]))

    for label in (np.array(2), np.int64(2), np.uint8(2)):
        assert SoftmaxCrossEntropyGate().forward(scores, label) == pytest.approx(batch)
    assert_gradients_pass(HingeLossGate(), scores, np.array(1))
    assert_gradients_pass(NLLLossGate(), scores, np.array(1))


@pytest.mark.parametrize("gate_class", CLASS_LOSSES)
def test_class_losses_refuse_bad_labels_naming_the_gate(gate_class):
    name = gate_class.__name__
    scores = np.zeros((2, 3))
    with pytest.raises(ValueError, match=rf"{name}: labels must be integers .*float64"):
        gate_class().forward(scores, np.array([0.0, 1.0]))
    with pytest.raises(
        ValueError, match=rf"{name}: labels must lie in \[0, 3\); got 3"
    ):
        gate_class().forward(scores, np.array([0, 3]))
    with pytest.raises(ValueError, match=rf"{name}: labels must lie .*; got -1"):
        gate_class().forward(scores, np.array([-1, 0]))
    with pytest.raises(ValueError, match=r"need labels of shape \(2,\); got .* \(3,\)"):
        gate_class().forward(scores, np.array([0, 1, 2]))
    with pytest.raises(
        ValueError, match=r"shape \(N, C\) or \(C,\); got .*\(2, 3, 1\)"
    ):
        gate_class().forward(np.zeros((2, 3, 1)), np.array([0, 1]))
    with pytest.raises(ValueError, match=rf"{name}: reduction must be 'mean', 'sum'"):
        gate_class(reduction="average")


@pytest.mark.parametrize("value", [1e8, -1e8, 1000.0, 1e308])
def test_cross_entropy_is_exact_at_extreme_scores(value, no_warnings):
    scores = np.array([[value, 0.0, -value], [0.0, value, value]])
    gate = SoftmaxCrossEntropyGate(reduction="none")

    losses = gate.forward(scores, np.array([0, 2]))
    dscores, _ = gate.backward(np.ones(2))

    big = abs(value)
    expected = [0.0 if value > 0 else 2 * big, math.log(2.0) if value > 0 else big]
    np.testing.assert_allclose(losses, expected, rtol=1e-15)
    assert np.all(np.isfinite(dscores))
    np.testing.assert_allclose(dscores.sum(axis=1), 0.0, atol=1e-15)


# -- elementwise losses ---------------------------------------------------------


def elementwise_reference(name, p, t, beta=1.0):
    d = p - t
    if name == "MSELossGate":
        return d**2
    if name == "L1LossGate":
        return np.abs(d)
    if name == "SmoothL1LossGate":
        return np.where(np.abs(d) < beta, 0.5 * d**2 / beta, np.abs(d) - 0.5 * beta)
    if name == "BCELossGate":
        return -(t * np.log(p) + (1 - t) * np.log(1 - p))
    sigma = 1 / (1 + np.exp(-p))
    return -(t * np.log(sigma) + (1 - t) * np.log(1 - sigma))


def elementwise_inputs(name, seed, shape):
    rng = np.random.default_rng(seed)
    if name == "BCELossGate":
        return rng.uniform(0.05, 0.95, shape), rng.uniform(0, 1, shape)
    if name == "BCEWithLogitsLossGate":
        return 3 * rng.normal(size=shape), rng.uniform(0, 1, shape)
    return rng.normal(size=shape), rng.normal(size=shape)


@few
@given(
    gate_class=st.sampled_from(ELEMENTWISE_LOSSES),
    shape=shapes,
    seed=seeds,
    reduction=reductions,
)
def test_elementwise_losses_average_over_every_element_and_gradcheck_both_inputs(
    gate_class, shape, seed, reduction
):
    p, t = elementwise_inputs(gate_class.__name__, seed, shape)
    losses = elementwise_reference(gate_class.__name__, p, t)
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]

    out = gate_class(reduction=reduction).forward(p, t)

    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
    report = check_gate(gate_class(reduction=reduction), p, t, seed=seed)
    assert [c.name for c in report.checks] == ["x0", "x1"]  # the target too
    assert_gradients_pass(gate_class(reduction=reduction), p, t, seed=seed)


@few
@given(shape=shapes, seed=seeds, beta=st.sampled_from([0.1, 0.5, 2.0]))
def test_smooth_l1_with_any_beta_gradchecks(shape, seed, beta):
    p, t = elementwise_inputs("SmoothL1LossGate", seed, shape)
    gate = SmoothL1LossGate(beta=beta, reduction="sum")

    out = gate.forward(p, t)

    expected = elementwise_reference("SmoothL1LossGate", p, t, beta).sum()
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
    assert_gradients_pass(SmoothL1LossGate(beta=beta), p, t, seed=seed)


def test_elementwise_losses_match_torch():
    torch = pytest.importorskip("torch", reason="torch is the reference for losses")
    F = torch.nn.functional
    references = {
        "MSELossGate": F.mse_loss,
        "L1LossGate": F.l1_loss,
        "SmoothL1LossGate": lambda a, b, reduction: F.smooth_l1_loss(
            a, b, reduction=reduction, beta=0.7
        ),
        "BCELossGate": F.binary_cross_entropy,
        "BCEWithLogitsLossGate": F.binary_cross_entropy_with_logits,
    }
    for gate_class in ELEMENTWISE_LOSSES:
        name = gate_class.__name__
        extra = {"beta": 0.7} if name == "SmoothL1LossGate" else {}
        p, t = elementwise_inputs(name, 5, (3, 4))
        for reduction in ("mean", "sum", "none"):
            tp = torch.tensor(p, requires_grad=True)
            tt = torch.tensor(t, requires_grad=name != "BCELossGate")
            expected = references[name](tp, tt, reduction=reduction)
            upstream = upstream_for(expected.detach().numpy(), 2)
            expected.backward(torch.tensor(upstream, dtype=torch.float64))
            gate = gate_class(reduction=reduction, **extra)

            out = gate.forward(p, t)
            dp, dt = gate.backward(upstream)

            np.testing.assert_allclose(
                out, expected.detach().numpy(), rtol=1e-12, atol=1e-14
            )
            np.testing.assert_allclose(dp, tp.grad.numpy(), rtol=1e-10, atol=1e-15)
            if tt.grad is not None:
                np.testing.assert_allclose(dt, tt.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_l1_at_the_kink_has_gradient_zero():
    gate = L1LossGate(reduction="sum")
    gate.forward(np.array([1.0, 2.0]), np.array([1.0, 0.0]))

    dp, dt = gate.backward(1.0)

    np.testing.assert_array_equal(dp, [0.0, 1.0])
    np.testing.assert_array_equal(dt, [0.0, -1.0])


def test_bce_is_finite_at_probabilities_zero_and_one(no_warnings):
    gate = BCELossGate(reduction="none")
    p = np.array([0.0, 1.0, 0.0, 1.0])
    t = np.array([0.0, 1.0, 1.0, 0.0])

    losses = gate.forward(p, t)
    dp, dt = gate.backward(np.ones(4))

    np.testing.assert_array_equal(losses, [0.0, 0.0, 100.0, 100.0])  # log clamped
    assert np.all(np.isfinite(dp)) and np.all(np.isfinite(dt))
    np.testing.assert_array_equal(np.sign(dp), [0, 0, -1, 1])


def test_bce_refuses_probabilities_outside_zero_one():
    with pytest.raises(ValueError, match=r"BCELossGate: probabilities must lie in"):
        BCELossGate().forward(np.array([0.5, 1.5]), np.array([0.0, 1.0]))


@pytest.mark.parametrize("value", [1e8, -1e8, 1000.0, -1000.0, 1e308, -1e308])
def test_bce_with_logits_is_exact_over_the_whole_float_range(value, no_warnings):
    gate = BCEWithLogitsLossGate(reduction="none")
    x = np.array([value, value, value])
    t = np.array([1.0, 0.0, 0.5])

    losses = gate.forward(x, t)
    dx, dt = gate.backward(np.ones(3))

    big = abs(value)
    right = [0.0, big, big / 2] if value > 0 else [big, 0.0, big / 2]
    np.testing.assert_allclose(losses, right, rtol=1e-15)
    sigma = 1.0 if value > 0 else 0.0
    np.testing.assert_allclose(dx, sigma - t)
    np.testing.assert_array_equal(dt, -x)


def test_losses_beyond_the_float_range_are_inf_without_warnings(no_warnings):
    huge, tiny = np.array([1e308]), np.array([-1e308])

    assert MSELossGate().forward(huge, tiny) == np.inf
    assert L1LossGate().forward(huge, tiny) == np.inf
    assert SmoothL1LossGate().forward(huge, tiny) == np.inf
    assert HingeLossGate().forward(np.array([1e308, -1e308]), np.array(1)) == np.inf
    assert L2PenaltyGate(1.0).forward(huge) == np.inf


def test_elementwise_losses_refuse_mismatched_shapes():
    for gate_class in ELEMENTWISE_LOSSES:
        name = gate_class.__name__
        with pytest.raises(ValueError, match=rf"{name}: .*same shape; got \(3,\)"):
            gate_class().forward(np.full(3, 0.5), np.full((3, 1), 0.5))


def test_smooth_l1_refuses_a_beta_that_is_not_positive():
    with pytest.raises(ValueError, match="beta must be positive; got 0"):
        SmoothL1LossGate(beta=0)


def test_python_float_inputs_give_python_float_losses_and_gradients():
    gate = MSELossGate()

    assert gate.forward(3.0, 1.0) == 4.0
    assert gate.backward(1.0) == (4.0, -4.0)
    assert all(type(g) is float for g in gate.backward(1.0))


# -- L2 penalty -----------------------------------------------------------------


@few
@given(shape=shapes, seed=seeds, strength=st.floats(0, 10))
def test_l2_penalty_is_strength_times_sum_of_squares(shape, seed, strength):
    W = np.random.default_rng(seed).normal(size=shape)
    gate = L2PenaltyGate(strength)

    out = gate.forward(W)
    (dW,) = gate.backward(1.0)

    assert out == pytest.approx(strength * np.sum(W**2))
    np.testing.assert_allclose(dW, 2 * strength * W)
    if strength > 0:
        assert_gradients_pass(L2PenaltyGate(strength), W, seed=seed)


def test_l2_penalty_refuses_a_negative_strength():
    with pytest.raises(ValueError, match="strength must be zero or positive; got -1"):
        L2PenaltyGate(-1)


# -- dtypes and graphs ----------------------------------------------------------


@pytest.mark.parametrize(
    ("gate", "inputs"),
    [
        (SoftmaxGate(), [np.ones((2, 3))]),
        (LogSoftmaxGate(), [np.ones((2, 3))]),
        (SoftmaxCrossEntropyGate(), [np.ones((2, 3)), np.array([0, 2])]),
        (NLLLossGate("none"), [np.ones((2, 3)), np.array([0, 2])]),
        (HingeLossGate(), [np.ones((2, 3)), np.array([0, 2])]),
        (MSELossGate(), [np.ones((2, 3)), np.zeros((2, 3))]),
        (L1LossGate("sum"), [np.ones((2, 3)), np.zeros((2, 3))]),
        (SmoothL1LossGate(), [np.ones((2, 3)), np.zeros((2, 3))]),
        (BCELossGate(), [np.full((2, 3), 0.3), np.zeros((2, 3))]),
        (BCEWithLogitsLossGate(), [np.ones((2, 3)), np.zeros((2, 3))]),
        (L2PenaltyGate(0.1), [np.ones((2, 3))]),
    ],
)
def test_float32_inputs_give_float32_losses_and_gradients(gate, inputs):
    inputs = [x.astype(np.float32) if x.dtype.kind == "f" else x for x in inputs]

    out = gate.forward(*inputs)
    grads = gate.backward(np.ones(np.shape(out)))  # a float64 upstream gradient

    assert np.result_type(out) == np.float32
    assert all(g is None or g.dtype == np.float32 for g in grads)


def affine_cross_entropy_graph(seed):
    rng = np.random.default_rng(seed)
    g = ComputationalGraph()
    x, labels = g.input("x"), g.input("labels")
    W = g.parameter("W", rng.normal(size=(6, 3)))
    b = g.parameter("b", rng.normal(size=3))
    scores = g.add_gate(AffineGate(), [x, W, b], name="scores")
    data_loss = g.add_gate(SoftmaxCrossEntropyGate(), [scores, labels], name="ce")
    penalty = g.add_gate(L2PenaltyGate(0.1), [W], name="l2")
    g.output(data_loss + penalty)
    return g, rng.normal(size=(4, 2, 3)), np.array([0, 2, 1, 2])


def test_affine_softmax_cross_entropy_graph_passes_check_graph():
    g, x, labels = affine_cross_entropy_graph(0)

    gate_reports, report = check_graph(g, x=x, labels=labels)

    assert all(r.passed for r in gate_reports.values()), gate_reports
    assert report.passed, str(report)
    assert {c.name for c in report.checks} == {"x", "W", "b"}


def test_graph_gradient_of_scores_is_softmax_minus_onehot_over_n():
    g, x, labels = affine_cross_entropy_graph(1)
    g.forward(x=x, labels=labels)
    g.backward()

    scores = g.value("scores")
    probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    expected = (probs - np.eye(3)[labels]) / 4
    np.testing.assert_allclose(g.grad("scores"), expected, rtol=1e-12)


def test_nll_after_log_softmax_equals_fused_cross_entropy_in_a_graph():
    scores, labels = classification_batch(2, 5, 4)
    g = ComputationalGraph()
    s, y = g.input("s"), g.input("y")
    g.add_gate(NLLLossGate(), [s.apply(LogSoftmaxGate()), y])

    loss = g.forward(s=scores, y=labels)
    grads = g.backward()

    fused = SoftmaxCrossEntropyGate()
    assert loss == pytest.approx(fused.forward(scores, labels), rel=1e-14)
    np.testing.assert_allclose(grads["s"], fused.backward(1.0)[0], atol=1e-15)
