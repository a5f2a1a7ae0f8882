"""Optimizers and schedules: closed-form steps, torch.optim, state, validation."""

import math

import numpy as np
import pytest

from compgraph import ComputationalGraph, nn
from compgraph.io import load_parameters, save_parameters
from compgraph.optim import SGD, Adam, CosineLR, OptimizerStateError, StepLR


def linear_graph(p0):
    """``L = sum(p * c)`` with ``c`` fed each step, so dL/dp = c exactly."""
    g = ComputationalGraph()
    p = g.parameter("p", np.array(p0, dtype=float))
    (p * g.input("c")).sum()
    return g


def run(optimizer, graph, gradients):
    for c in gradients:
        graph.forward(c=c)
        graph.backward()
        optimizer.step()
    return graph.value("p")


P0 = [1.0, -2.0, 0.5]
G1, G2 = np.array([0.5, 1.0, -2.0]), np.array([-1.0, 0.25, 3.0])


# -- closed forms ------------------------------------------------------------------


def test_sgd_step_is_minus_lr_times_gradient():
    g = linear_graph(P0)
    np.testing.assert_allclose(run(SGD(g, lr=0.1), g, [G1]), np.array(P0) - 0.1 * G1)


def test_sgd_momentum_accumulates_velocity():
    g = linear_graph(P0)
    p = run(SGD(g, lr=0.1, momentum=0.9), g, [G1, G2])
    # v1 = g1, v2 = 0.9 g1 + g2; p = p0 - lr (v1 + v2)
    np.testing.assert_allclose(p, np.array(P0) - 0.1 * (G1 + 0.9 * G1 + G2))


def test_nesterov_steps_by_gradient_plus_momentum_times_velocity():
    g = linear_graph(P0)
    p = run(SGD(g, lr=0.1, momentum=0.9, nesterov=True), g, [G1, G2])
    v1, v2 = G1, 0.9 * G1 + G2
    expected = np.array(P0) - 0.1 * (G1 + 0.9 * v1) - 0.1 * (G2 + 0.9 * v2)
    np.testing.assert_allclose(p, expected)


def test_weight_decay_adds_decay_times_parameter_to_the_gradient():
    g = linear_graph(P0)
    p = run(SGD(g, lr=0.1, weight_decay=0.01), g, [G1])
    np.testing.assert_allclose(p, np.array(P0) - 0.1 * (G1 + 0.01 * np.array(P0)))


def test_adam_two_steps_in_closed_form():
    g = linear_graph(P0)
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.01
    p = run(Adam(g, lr=lr, betas=(b1, b2), eps=eps), g, [G1, G2])

    expected, m, v = np.array(P0), 0.0, 0.0
    for t, grad in enumerate([G1, G2], start=1):
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        expected = expected - lr * m_hat / (np.sqrt(v_hat) + eps)
    np.testing.assert_allclose(p, expected, rtol=1e-12)


def test_scalar_parameters_are_updated_through_set_value():
    g = ComputationalGraph()
    w = g.parameter("w", 3.0)
    w * w
    sgd = SGD(g, lr=0.1, momentum=0.5)
    for _ in range(2):
        g.forward()
        g.backward()
        sgd.step()
    # w1 = 3 - 0.1 * 6 = 2.4; v2 = 0.5 * 6 + 4.8 = 7.8; w2 = 2.4 - 0.78
    assert g.value("w") == pytest.approx(1.62)
    assert isinstance(g.value("w"), float)


def test_float32_parameters_stay_float32_and_are_updated_in_place():
    g = ComputationalGraph()
    start = np.ones(3, dtype=np.float32)
    g.parameter("p", start)
    (g["p"] * g.input("c")).sum()
    adam = Adam(g, lr=0.1)
    g.forward(c=np.ones(3, dtype=np.float32))
    g.backward()
    adam.step()
    assert g.value("p") is start and start.dtype == np.float32
    np.testing.assert_allclose(start, 0.9, rtol=1e-6)


# -- against torch.optim -------------------------------------------------------------

TORCH_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.003, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
]


@pytest.mark.parametrize(("kind", "options"), TORCH_CASES)
def test_optimizers_match_torch_optim_step_for_step(kind, options, rng):
    torch = pytest.importorskip("torch", reason="torch.optim is the reference")
    start = rng.normal(size=(4, 3))
    gradients = rng.normal(size=(6, 4, 3))

    g = ComputationalGraph()
    (g.parameter("p", start.copy()) * g.input("c")).sum()
    ours = {"SGD": SGD, "Adam": Adam}[kind](g, **options)

    p = torch.tensor(start.copy(), requires_grad=True)
    theirs = getattr(torch.optim, kind)([p], **options)
    for c in gradients:
        g.forward(c=c)
        g.backward()
        ours.step()
        p.grad = torch.tensor(c)
        theirs.step()
        np.testing.assert_allclose(g.value("p"), p.detach().numpy(), rtol=1e-12)


def test_schedules_match_torch_schedulers():
    torch = pytest.importorskip("torch", reason="torch schedulers are the reference")
    p = torch.zeros(1, requires_grad=True)
    pairs = []
    for ours_class, theirs_class, ours_args, theirs_args in [
        (StepLR, torch.optim.lr_scheduler.StepLR, (3, 0.5), (3, 0.5)),
        (CosineLR, torch.optim.lr_scheduler.CosineAnnealingLR, (10, 0.01), (10, 0.01)),
    ]:
        ours_optimizer = SGD(ComputationalGraph(), lr=0.2)
        theirs_optimizer = torch.optim.SGD([p], lr=0.2)
        ours = ours_class(ours_optimizer, *ours_args)
        theirs = theirs_class(theirs_optimizer, *theirs_args)
        for _ in range(10):
            theirs_optimizer.step()
            ours.step()
            theirs.step()
            pairs.append((ours_optimizer.lr, theirs_optimizer.param_groups[0]["lr"]))
    ours_rates, theirs_rates = zip(*pairs)
    np.testing.assert_allclose(ours_rates, theirs_rates, rtol=1e-12)


def test_step_and_cosine_schedules_in_closed_form():
    sgd = SGD(ComputationalGraph(), lr=1.0)
    step = StepLR(sgd, step_size=2, gamma=0.1)
    rates = []
    for _ in range(5):
        step.step()
        rates.append(sgd.lr)
    np.testing.assert_allclose(rates, [1.0, 0.1, 0.1, 0.01, 0.01])

    sgd = SGD(ComputationalGraph(), lr=1.0)
    cosine = CosineLR(sgd, total_steps=8, min_lr=0.2)
    for _ in range(4):
        cosine.step()
    assert sgd.lr == pytest.approx(0.6)  # halfway: (1 + 0.2) / 2
    for _ in range(10):
        cosine.step()
    assert sgd.lr == pytest.approx(0.2)
    assert cosine.lr_at(2) == pytest.approx(0.2 + 0.8 * (1 + math.cos(math.pi / 4)) / 2)


# -- state: an interrupted run resumes exactly ---------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda g: SGD(g, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda g: Adam(g, lr=0.01, weight_decay=1e-3),
    ],
)
def test_an_interrupted_run_resumes_exactly_from_saved_state(make, tmp_path, rng):
    x = rng.normal(size=(8, 3))
    labels = rng.integers(0, 2, size=8)

    def build():
        g = ComputationalGraph()
        scores = nn.Linear(3, 2, rng=0)(g.input("x"))
        nn.CrossEntropyLoss()(scores, g.input("labels"))
        optimizer = make(g)
        return g, optimizer, CosineLR(optimizer, total_steps=6)

    def train(g, optimizer, schedule, steps):
        for _ in range(steps):
            g.forward(x=x, labels=labels)
            g.backward()
            optimizer.step()
            schedule.step()

    g, optimizer, schedule = build()
    train(g, optimizer, schedule, 6)
    straight = {n: v.copy() for n, v in g.parameters().items()}

    g, optimizer, schedule = build()
    train(g, optimizer, schedule, 3)
    extra = {f"optim/{k}": v for k, v in optimizer.state_dict().items()}
    extra.update({f"schedule/{k}": v for k, v in schedule.state_dict().items()})
    save_parameters(g, tmp_path / "run.npz", extra=extra)

    g, optimizer, schedule = build()
    loaded = load_parameters(g, tmp_path / "run.npz")
    optimizer.load_state_dict(
        {k[6:]: v for k, v in loaded.items() if k.startswith("optim/")}
    )
    schedule.load_state_dict(
        {k[9:]: v for k, v in loaded.items() if k.startswith("schedule/")}
    )
    train(g, optimizer, schedule, 3)
    for name, value in g.parameters().items():
        np.testing.assert_array_equal(value, straight[name])


def test_state_dict_holds_numbers_and_array_copies():
    g = linear_graph(P0)
    sgd = SGD(g, lr=0.1, momentum=0.5)
    run(sgd, g, [G1])
    state = sgd.state_dict()
    assert state == {
        "lr": 0.1,
        "momentum": 0.5,
        "nesterov": False,
        "weight_decay": 0.0,
        "step": 1,
        "velocity/p": pytest.approx(G1),
    }
    state["velocity/p"][:] = 0
    np.testing.assert_array_equal(sgd.state["velocity"]["p"], G1)  # a copy


def test_loading_a_state_that_does_not_fit_is_refused_with_the_key():
    g = linear_graph(P0)
    adam = Adam(g)
    run(adam, g, [G1])
    sgd = SGD(g, lr=0.1, momentum=0.9)
    with pytest.raises(OptimizerStateError, match="SGD state has no 'momentum'"):
        sgd.load_state_dict(adam.state_dict())

    state = SGD(g, lr=0.1, momentum=0.9).state_dict()
    with pytest.raises(OptimizerStateError, match="unexpected SGD state entry 'm/p'"):
        sgd.load_state_dict({**state, "m/p": np.zeros(3)})
    with pytest.raises(OptimizerStateError, match=r"shape \(2,\), but parameter 'p'"):
        sgd.load_state_dict({**state, "velocity/p": np.zeros(2)})
    with pytest.raises(OptimizerStateError, match="no 'base_lr'"):
        StepLR(sgd, 2).load_state_dict({"step": 3})


# -- hyper-parameters are validated ----------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda g: SGD(g, lr=-0.1), r"SGD lr must be in \[0.0, inf\), got -0.1"),
        (lambda g: SGD(g, lr=0.1, momentum=1.0), r"momentum must be in \[0.0, 1.0\)"),
        (lambda g: SGD(g, lr=0.1, momentum=-0.5), r"momentum must be in \[0.0, 1.0\)"),
        (lambda g: SGD(g, lr=0.1, nesterov=True), "nesterov=True needs a momentum"),
        (lambda g: SGD(g, lr=0.1, weight_decay=-1), "weight_decay must be in"),
        (lambda g: Adam(g, betas=(0.9, 1.0)), r"beta2 must be in \[0.0, 1.0\)"),
        (lambda g: Adam(g, eps=0.0), r"eps must be in \(0.0, inf\)"),
        (lambda g: Adam(g, lr=math.nan), "Adam lr must be in"),
        (lambda g: StepLR(SGD(g, lr=1.0), step_size=0), "step_size must be an int"),
        (lambda g: CosineLR(SGD(g, lr=1.0), 10, min_lr=-1), "min_lr must be in"),
    ],
)
def test_bad_hyper_parameters_are_refused_with_the_range(make, message):
    with pytest.raises(ValueError, match=message):
        make(ComputationalGraph())


def test_lr_is_settable_and_checked():
    sgd = SGD(ComputationalGraph(), lr=0.1)
    sgd.lr = 0.01
    assert sgd.lr == 0.01
    with pytest.raises(ValueError, match="lr must be in"):
        sgd.lr = -1.0
    with pytest.raises(TypeError, match="lr must be a number, got '0.1'"):
        sgd.lr = "0.1"
    assert repr(sgd) == ("SGD(lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0)")
