"""Layers: the graphs they build, their initial values, losses, gradients, training."""

import numpy as np
import pytest

from compgraph import ComputationalGraph, GateReuseError, GraphStructureError, nn, optim
from compgraph.gradcheck import check_graph, first_failure


def mlp_graph(rng=0, dtype=np.float64):
    g = ComputationalGraph()
    x, labels = g.input("x"), g.input("labels")
    model = nn.Sequential(
        nn.Linear(4, 6, rng=rng, dtype=dtype),
        nn.Tanh(),
        nn.Linear(6, 5, rng=rng, dtype=dtype),
        nn.ReLU(),
        nn.Linear(5, 3, rng=rng, dtype=dtype),
    )
    loss = nn.CrossEntropyLoss()(model(x), labels)
    return g, model, loss


# -- the graphs layers build ---------------------------------------------------


def test_linear_adds_named_parameters_and_an_affine_gate():
    g = ComputationalGraph()
    fc = nn.Linear(64, 256, rng=0)
    out = fc(g.input("x"))

    assert out.name == "fc1.affine"
    assert fc.parameter_names == ["fc1.W", "fc1.b"]
    assert fc.node_names == ["fc1.affine"]
    assert g.inputs_of("fc1.affine") == ["x", "fc1.W", "fc1.b"]
    assert g.value("fc1.W").shape == (64, 256)
    assert np.array_equal(g.value("fc1.b"), np.zeros(256))
    assert repr(fc) == "Linear(64 -> 256, name='fc1')"
    assert fc.parameters().keys() == {"fc1.W", "fc1.b"}


def test_linear_flattens_images_and_without_bias_uses_matmul():
    g = ComputationalGraph()
    x = g.input("x")
    with_bias = nn.Linear(12, 2, rng=0)(x)
    no_bias = nn.Linear(12, 2, bias=False, rng=0, name="proj")
    no_bias(nn.Flatten()(x))

    assert repr(no_bias) == "Linear(12 -> 2, bias=False, name='proj')"
    assert no_bias.parameter_names == ["proj.W"]
    assert type(g.gate("proj.matmul")).__name__ == "MatMulGate"
    g.forward(x=np.ones((5, 3, 2, 2)))
    assert g.value(with_bias.name).shape == (5, 2)
    assert g.value("proj.matmul").shape == (5, 2)


def test_unnamed_layers_take_the_first_free_number_of_their_kind():
    g = ComputationalGraph()
    x = g.input("x")
    h = nn.Linear(3, 3, name="fc1")(x)
    h = nn.Linear(3, 3)(h)
    h = x.relu()  # the engine's own relu1
    relu = nn.ReLU()
    relu(h)
    assert g.nodes("parameter") == ["fc1.W", "fc1.b", "fc2.W", "fc2.b"]
    assert relu.name == "relu2"


def test_a_name_already_used_in_the_graph_is_refused():
    g = ComputationalGraph()
    x = g.input("x")
    nn.Linear(3, 3)(x)
    with pytest.raises(GraphStructureError, match="already has a node 'fc1.W'"):
        nn.Linear(3, 3, name="fc1")(x)
    with pytest.raises(GraphStructureError, match="may not contain"):
        nn.Linear(3, 3, name="a.b")


def test_a_layer_placed_twice_is_refused():
    g = ComputationalGraph()
    x = g.input("x")
    fc = nn.Linear(3, 3)
    fc(x)
    with pytest.raises(GateReuseError, match="create a new Linear"):
        fc(x)
    model = nn.Sequential(nn.ReLU(), fc)
    with pytest.raises(GateReuseError, match="already placed"):
        model(x)
    with pytest.raises(TypeError, match="item 0 is the class ReLU; create one: ReLU"):
        nn.Sequential(nn.ReLU, fc)
    assert g.nodes("gate") == ["fc1.affine"]  # nothing half-built


def test_layers_are_called_on_nodes():
    with pytest.raises(TypeError, match="called on graph nodes .* got ndarray"):
        nn.ReLU()(np.ones(3))


def test_convnet_layers_build_the_expected_shapes_and_parameter_counts():
    g = ComputationalGraph()
    x, labels = g.input("x"), g.input("labels")
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, rng=0),
        nn.BatchNorm(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, rng=0),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Dropout(0.25, seed=0),
        nn.Linear(32 * 4 * 4, 10, rng=0),
    )
    loss = nn.CrossEntropyLoss()(model(x), labels)
    g.forward(x=np.ones((2, 1, 16, 16)), labels=np.array([1, 2]))

    shapes = {name: g.value(name).shape for name in model.node_names}
    assert shapes == {
        "conv1.conv": (2, 16, 16, 16),
        "bn1.batchnorm": (2, 16, 16, 16),
        "relu1": (2, 16, 16, 16),
        "pool1": (2, 16, 8, 8),
        "conv2.conv": (2, 32, 8, 8),
        "relu2": (2, 32, 8, 8),
        "pool2": (2, 32, 4, 4),
        "dropout1": (2, 32, 4, 4),
        "fc1.affine": (2, 10),
    }
    counts = {n: v.size for n, v in g.parameters().items()}
    assert counts == {
        "conv1.W": 144,
        "conv1.b": 16,
        "bn1.gamma": 16,
        "bn1.beta": 16,
        "conv2.W": 4608,
        "conv2.b": 32,
        "fc1.W": 5120,
        "fc1.b": 10,
    }
    assert loss.name == "loss1"
    assert repr(model[0]) == (
        "Conv2d(1 -> 16, kernel_size=3, stride=1, padding=1, name='conv1')"
    )
    assert repr(model[3]) == "MaxPool2d(kernel_size=2, name='pool1')"
    assert repr(model[7]) == "Dropout(p=0.25, name='dropout1')"


def test_layer_reprs_before_placing():
    assert repr(nn.BatchNorm(8, momentum=0.2)) == "BatchNorm(8, momentum=0.2)"
    assert repr(nn.LeakyReLU(0.1)) == "LeakyReLU(alpha=0.1)"
    assert repr(nn.MultiClassHingeLoss()) == "MultiClassHingeLoss(margin=1.0)"
    assert repr(nn.CrossEntropyLoss("sum")) == "CrossEntropyLoss(reduction='sum')"
    assert repr(nn.Sequential()) == "Sequential()"


def test_bad_constructor_arguments_are_named():
    with pytest.raises(ValueError, match="in_features must be at least 1, got 0"):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match="init must be one of .*'glorot'"):
        nn.Linear(2, 3, init="glorot")
    with pytest.raises(TypeError, match="rng must be a numpy Generator"):
        nn.Linear(2, 3, rng=0.5)
    with pytest.raises(ValueError, match=r"Dropout probability p must be in \[0, 1\)"):
        nn.Dropout(1.0)
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss("average")
    with pytest.raises(ValueError, match="kernel_size is an int or a pair"):
        nn.Conv2d(1, 2, (3, 3, 3))


# -- initial values ------------------------------------------------------------


def test_he_initialization_has_variance_two_over_fan_in():
    w = nn.Linear(500, 400, rng=0)._values["W"]
    assert w.mean() == pytest.approx(0.0, abs=0.003)
    assert w.var() == pytest.approx(2 / 500, rel=0.02)

    kernel = nn.Conv2d(20, 300, 5, rng=1)._values["W"]
    assert kernel.var() == pytest.approx(2 / (20 * 25), rel=0.02)


def test_xavier_initialization_has_variance_two_over_fans_in_and_out():
    w = nn.Linear(500, 300, init="xavier", rng=0)._values["W"]
    assert w.var() == pytest.approx(2 / 800, rel=0.02)
    kernel = nn.Conv2d(20, 300, 5, init="xavier", rng=1)._values["W"]
    assert kernel.var() == pytest.approx(2 / (20 * 25 + 300 * 25), rel=0.02)


def test_a_seed_reproduces_the_parameters_exactly():
    first, _, _ = mlp_graph(rng=7)
    second, _, _ = mlp_graph(rng=7)
    other, _, _ = mlp_graph(rng=8)
    for name, value in first.parameters().items():
        assert np.array_equal(value, second.parameters()[name])
    assert not np.array_equal(first.value("fc1.W"), other.value("fc1.W"))

    generator = np.random.default_rng(3)
    a, b = nn.Linear(3, 3, rng=generator), nn.Linear(3, 3, rng=generator)
    assert not np.array_equal(a._values["W"], b._values["W"])  # one shared stream


def test_float32_layers_hold_float32_parameters():
    g, _, _ = mlp_graph(dtype=np.float32)
    assert {v.dtype for v in g.parameters().values()} == {np.dtype(np.float32)}
    w64 = nn.Linear(3, 2, rng=4)._values["W"]
    w32 = nn.Linear(3, 2, rng=4, dtype=np.float32)._values["W"]
    assert np.array_equal(w64.astype(np.float32), w32)


X = np.array([[-2.0, -0.5, 0.5, 3.0]])
ACTIVATIONS = [
    (nn.ReLU, (), "relu1", np.maximum(X, 0)),
    (nn.Sigmoid, (), "sigmoid1", 1 / (1 + np.exp(-X))),
    (nn.Tanh, (), "tanh1", np.tanh(X)),
    (nn.LeakyReLU, (0.1,), "leaky_relu1", np.where(X > 0, X, 0.1 * X)),
    (nn.ELU, (0.5,), "elu1", np.where(X > 0, X, 0.5 * (np.exp(X) - 1))),
    (nn.Softplus, (), "softplus1", np.log1p(np.exp(X))),
    (nn.Softmax, (), "softmax1", np.exp(X) / np.exp(X).sum()),
    (nn.LogSoftmax, (), "log_softmax1", X - np.log(np.exp(X).sum())),
]


@pytest.mark.parametrize(("kind", "args", "name", "expected"), ACTIVATIONS)
def test_activation_layers_add_one_named_gate_computing_their_function(
    kind, args, name, expected
):
    g = ComputationalGraph()
    layer = kind(*args)
    out = layer(g.input("x"))
    assert out.name == name and layer.node_names == [name]
    assert layer.parameter_names == []
    np.testing.assert_allclose(g.forward(x=X), expected, rtol=1e-12)


def test_average_pooling_layer_averages_windows():
    g = ComputationalGraph()
    pool = nn.AvgPool2d(2, stride=1)
    pool(g.input("x"))
    out = g.forward(x=np.arange(9.0).reshape(1, 1, 3, 3))
    np.testing.assert_allclose(out[0, 0], [[2.0, 3.0], [5.0, 6.0]])
    assert repr(pool) == "AvgPool2d(kernel_size=2, stride=1, name='pool1')"


# -- losses against torch ------------------------------------------------------

LOSS_CASES = [
    ("CrossEntropyLoss", (), "cross_entropy", "labels"),
    ("MSELoss", (), "mse_loss", "values"),
    ("L1Loss", (), "l1_loss", "values"),
    ("SmoothL1Loss", (0.5,), "smooth_l1_loss", "values"),
    ("BCELoss", (), "binary_cross_entropy", "probabilities"),
    ("BCEWithLogitsLoss", (), "binary_cross_entropy_with_logits", "probabilities"),
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("layer", "args", "torch_name", "targets"), LOSS_CASES)
def test_loss_layers_match_torch(layer, args, torch_name, targets, reduction, rng):
    torch = pytest.importorskip("torch", reason="torch is the reference for losses")
    scores = rng.normal(size=(6, 4))
    if targets == "labels":
        target = rng.integers(0, 4, size=6)
    elif targets == "values":
        target = rng.normal(size=(6, 4))
    else:
        target = rng.uniform(size=(6, 4))
    inputs = 1 / (1 + np.exp(-scores)) if layer == "BCELoss" else scores

    g = ComputationalGraph()
    loss = getattr(nn, layer)(*args, reduction=reduction)
    loss(g.input("scores"), g.input("targets"))
    ours = g.forward(scores=inputs, targets=target)
    upstream = rng.normal(size=np.shape(ours)) if reduction == "none" else None
    grad = g.backward(upstream)["scores"]

    s = torch.tensor(inputs, requires_grad=True)
    options = {"beta": args[0]} if args else {}
    theirs = getattr(torch.nn.functional, torch_name)(
        s, torch.tensor(target), reduction=reduction, **options
    )
    theirs.backward(None if upstream is None else torch.tensor(upstream))
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(grad, s.grad.numpy(), rtol=1e-8, atol=1e-14)


def test_nll_after_log_softmax_matches_torch(rng):
    torch = pytest.importorskip("torch", reason="torch is the reference for losses")
    scores, labels = rng.normal(size=(5, 3)), rng.integers(0, 3, size=5)
    g = ComputationalGraph()
    log_probs = nn.LogSoftmax()(g.input("scores"))
    nn.NLLLoss()(log_probs, g.input("labels"))
    ours = g.forward(scores=scores, labels=labels)
    grad = g.backward()["scores"]

    s = torch.tensor(scores, requires_grad=True)
    theirs = torch.nn.functional.nll_loss(
        torch.log_softmax(s, dim=-1), torch.tensor(labels)
    )
    theirs.backward()
    assert ours == pytest.approx(theirs.item(), rel=1e-12)
    np.testing.assert_allclose(grad, s.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_multiclass_hinge_is_torch_multi_margin_times_classes(rng):
    # torch divides the sum over wrong classes by C; the course's SVM loss does not
    torch = pytest.importorskip("torch", reason="torch is the reference for losses")
    scores, labels = rng.normal(size=(7, 5)), rng.integers(0, 5, size=7)
    g = ComputationalGraph()
    nn.MultiClassHingeLoss(margin=0.5)(g.input("s"), g.input("y"))
    ours = g.forward(s=scores, y=labels)
    theirs = torch.nn.functional.multi_margin_loss(
        torch.tensor(scores), torch.tensor(labels), margin=0.5
    )
    assert ours == pytest.approx(5 * theirs.item(), rel=1e-12)


def test_cross_entropy_layer_is_stable_for_huge_scores():
    # case C10: logits [1e8, 1e8], class 1 -> ln 2 and gradient [0.5, -0.5]
    g = ComputationalGraph()
    nn.CrossEntropyLoss()(g.input("s"), g.input("y"))
    assert g.forward(s=np.array([[1e8, 1e8]]), y=np.array([1])) == pytest.approx(
        0.6931471805599453, rel=1e-15
    )
    np.testing.assert_allclose(g.backward()["s"], [[0.5, -0.5]])


# -- gradients end to end --------------------------------------------------------


def assert_all_passed(graph, **inputs):
    gate_reports, report = check_graph(graph, **inputs)
    assert first_failure(gate_reports) is None, first_failure(gate_reports)
    assert report.passed, str(report)
    verdicts = {check.name: check.verdict for check in report.checks}
    assert "fail" not in verdicts.values()
    return verdicts


def test_mlp_from_layers_passes_the_gradient_check(rng):
    g, model, _ = mlp_graph(rng=1)
    x, labels = rng.normal(size=(3, 4)), np.array([0, 2, 1])
    verdicts = assert_all_passed(g, x=x, labels=labels)
    assert set(model.parameter_names) <= set(verdicts)
    assert verdicts["fc1.W"] == "pass"


def test_small_convnet_from_layers_passes_the_gradient_check(rng):
    g = ComputationalGraph()
    x, labels = g.input("x"), g.input("labels")
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1, rng=2),
        nn.ReLU(),
        # after the ReLU: right after the conv it would cancel the conv's bias,
        # whose true gradient is then 0 and only rounding noise is measured
        nn.BatchNorm(3),
        nn.MaxPool2d(2),
        nn.Conv2d(3, 2, (2, 3), stride=1, padding=1, rng=3),
        nn.ELU(),
        nn.AvgPool2d(2, stride=1),
        nn.Linear(2 * 2 * 1, 3, init="xavier", rng=4),
    )
    loss = nn.CrossEntropyLoss()(model(x), labels)
    penalty = nn.l2_penalty(g, 0.01)
    g.output(loss + penalty)

    images = rng.normal(size=(2, 2, 4, 4))
    verdicts = assert_all_passed(g, x=images, labels=np.array([2, 0]))
    assert verdicts["conv1.W"] == "pass" and verdicts["bn1.gamma"] == "pass"


def test_embedding_gradient_adds_up_over_repeated_indices():
    g = ComputationalGraph()
    emb = nn.Embedding(5, 2, rng=0)
    vectors = emb(g.input("tokens"))
    vectors.sum()
    g.forward(tokens=np.array([[1, 3, 1], [1, 0, 4]]))
    grad = g.backward()["embedding1.table"]
    np.testing.assert_array_equal(grad[:, 0], [1, 3, 0, 1, 1])
    assert emb.parameter_names == ["embedding1.table"]


# -- training and evaluation modes ---------------------------------------------


def test_eval_reaches_dropout_and_batch_norm():
    g = ComputationalGraph()
    x = g.input("x")
    y = nn.Dropout(0.5, seed=0)(nn.BatchNorm(2, momentum=1.0)(x))
    batch = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]])

    trained = g.train().forward(x=batch)
    assert (trained == 0).any()  # some values dropped
    bn = g.gate("bn1.batchnorm")
    np.testing.assert_allclose(bn.running_mean, [3.0, 20.0])

    evaluated = g.eval().forward(x=batch)
    # identity dropout; batch norm with the running statistics (momentum 1)
    expected = (batch - [3.0, 20.0]) / np.sqrt(batch.var(axis=0, ddof=1) + 1e-5)
    np.testing.assert_allclose(evaluated, expected)
    assert y.name == "dropout1"


# -- Split, l2_penalty -----------------------------------------------------------


def test_split_cuts_a_node_and_gradients_come_back_in_place(rng):
    g = ComputationalGraph()
    parts = nn.split(g.input("x"), [1, 3], axis=1)
    (parts[0] * 2.0 + parts[1].sum(axis=1, keepdims=True)).sum()
    x = rng.normal(size=(2, 4))
    g.forward(x=x)
    np.testing.assert_array_equal(g.value("split1.1"), x[:, 1:])
    np.testing.assert_array_equal(g.backward()["x"], [[2, 1, 1, 1]] * 2)
    with pytest.raises(ValueError, match="list of positive ints, got 2"):
        nn.Split(2)


def test_l2_penalty_adds_strength_times_squares_of_the_weights_only():
    g, _, loss = mlp_graph(rng=5)
    nn.BatchNorm(3)(g["fc3.affine"])
    penalty = nn.l2_penalty(g, 0.1)
    weights = ["fc1.W", "fc2.W", "fc3.W"]
    assert g.inputs_of("penalty1.fc2.W") == ["fc2.W"]

    g.output(penalty)
    g.forward(x=np.ones((2, 4)), labels=np.array([0, 1]))
    expected = 0.1 * sum(np.sum(g.value(w) ** 2) for w in weights)
    assert g.value("penalty1") == pytest.approx(expected, rel=1e-12)
    grads = g.backward()
    np.testing.assert_allclose(grads["fc2.W"], 0.2 * g.value("fc2.W"))
    np.testing.assert_array_equal(grads["fc2.b"], 0.0)
    np.testing.assert_array_equal(grads["bn1.gamma"], 0.0)

    single = nn.l2_penalty(g, 1.0, names=["fc1.b"])
    assert single.name == "penalty2"
    with pytest.raises(ValueError, match="'fc9.W' is not a parameter"):
        nn.l2_penalty(g, 1.0, names=["fc9.W"])
    with pytest.raises(ValueError, match="found no weights"):
        nn.l2_penalty(ComputationalGraph(), 1.0)
    with pytest.raises(ValueError, match="strength must be >= 0"):
        nn.l2_penalty(g, -1.0)


# -- a real, short training run --------------------------------------------------


def test_an_mlp_learns_a_small_nonlinear_problem():
    data = np.random.default_rng(0)
    x = data.normal(size=(200, 2))
    labels = ((x[:, 0] * x[:, 1]) > 0).astype(np.int64)  # XOR of the signs

    g = ComputationalGraph()
    model = nn.Sequential(nn.Linear(2, 32, rng=1), nn.ReLU(), nn.Linear(32, 2, rng=2))
    scores = model(g.input("x"))
    loss = nn.CrossEntropyLoss()(scores, g.input("labels"))
    adam = optim.Adam(g, lr=0.02)
    first = g.forward(x=x, labels=labels)
    for _ in range(300):
        g.forward(x=x, labels=labels)
        g.backward()
        adam.step()
    last = g.forward(x=x, labels=labels)
    accuracy = np.mean(g.value(scores.name).argmax(axis=1) == labels)
    assert first > 0.5 and last < 0.1, (first, last)
    assert accuracy > 0.97
    assert loss.name == "loss1"
