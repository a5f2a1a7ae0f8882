import numpy as np
import pytest

from compgraph import models
from compgraph.errors import MissingInputError
from compgraph.gradcheck import numerical_gradient
from compgraph.models import DEFAULTS, MODELS, build_model

RNG = np.random.default_rng(0)


def batch(shape=(8, 8), n=6, classes=10):
    return RNG.normal(size=(n, *shape)), RNG.integers(0, classes, n)


@pytest.mark.parametrize("name", list(MODELS))
def test_model_gives_scores_per_class_and_a_scalar_loss(name):
    model = build_model(name, (8, 8), 10)
    x, y = batch()

    loss = model.graph.forward(**model.feed(x, y))

    assert np.ndim(loss) == 0 and loss > 0
    assert model.graph.value(model.scores).shape == (6, 10)
    # every node is a proper leaf or gate: no stray node from a stale handle
    assert all("kind" in d for _, d in model.graph.dag.nodes(data=True))
    assert model.graph.output().name == model.loss


@pytest.mark.parametrize("name", list(MODELS))
def test_model_without_loss_reads_no_labels_and_has_the_same_parameters(name):
    trained = build_model(name, (8, 8), 10, seed=3)
    bare = build_model(name, (8, 8), 10, seed=3, with_loss=False)
    x, y = batch()

    scores = bare.graph.eval().forward(**bare.feed(x))
    trained.graph.eval().forward(**trained.feed(x, y))

    assert bare.labels is None and "labels" not in bare.graph
    assert sorted(bare.graph.parameters()) == sorted(trained.graph.parameters())
    np.testing.assert_array_equal(scores, trained.graph.value("scores"))
    with pytest.raises(MissingInputError, match="labels"):
        trained.graph.forward(**bare.feed(x))


def test_linear_svm_loss_at_zero_weights_is_margin_per_wrong_class():
    model = build_model("linear-svm", (8, 8), 10)
    for name in model.graph.parameters():
        model.graph.set_value(name, np.zeros_like(model.graph.value(name)))

    loss = model.graph.forward(**model.feed(*batch()))

    assert loss == pytest.approx(9.0)  # nine wrong classes, margin 1 each


def test_softmax_loss_at_zero_weights_is_log_of_class_count():
    model = build_model("softmax", (8, 8), 10)
    for name in model.graph.parameters():
        model.graph.set_value(name, np.zeros_like(model.graph.value(name)))

    loss = model.graph.forward(**model.feed(*batch()))

    assert loss == pytest.approx(np.log(10))


@pytest.mark.parametrize("name", ["linear-svm", "softmax"])
def test_linear_loss_adds_the_l2_penalty_on_weights_not_biases(name):
    model = build_model(name, (8, 8), 10, weight_decay=0.01)
    g = model.graph
    g.eval().forward(**model.feed(*batch()))
    weights = [v for v in g.parameters().values() if np.ndim(v) >= 2]

    expected = 0.01 * sum(float(np.sum(w**2)) for w in weights)

    assert g.value("penalty") == pytest.approx(expected)
    assert g.value("loss") == pytest.approx(g.value("data_loss") + expected)


@pytest.mark.parametrize("name", ["mlp", "convnet"])
def test_deep_models_leave_weight_decay_to_the_optimizer(name):
    model = build_model(name, (8, 8), 10, weight_decay=0.01)
    model.graph.eval().forward(**model.feed(*batch()))

    assert "penalty" not in model.graph and "data_loss" not in model.graph
    assert type(model.graph.gate("loss")).__name__ == "SoftmaxCrossEntropyGate"
    assert model.optimizer_weight_decay == 0.01
    assert build_model("softmax", (8, 8), 10).optimizer_weight_decay == 0.0


def test_zero_weight_decay_leaves_the_data_loss():
    model = build_model("softmax", (8, 8), 10, weight_decay=0.0)
    model.graph.forward(**model.feed(*batch()))

    assert "penalty" not in model.graph and "data_loss" not in model.graph
    assert model.graph.value("loss") == pytest.approx(np.log(10), abs=2)


SMALL = {
    "linear-svm": lambda: models.linear_svm((3, 3), 3, weight_decay=0.01, seed=1),
    "softmax": lambda: models.softmax((3, 3), 3, weight_decay=0.01, seed=1),
    "mlp": lambda: models.mlp((3, 3), 3, hidden=(6, 5), weight_decay=0.01, seed=1),
    "convnet": lambda: models.convnet(
        (4, 4), 3, channels=(2, 3), hidden=5, weight_decay=0.01, seed=1
    ),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_whole_loss_graph_gradients_match_finite_differences(name):
    # Small layers keep the check quick; dropout is off (eval mode) so the
    # loss is a fixed function of the parameters. Compared norm-wise: the
    # entries whose gradient is ~1e-7 carry no information elementwise.
    model = SMALL[name]()
    g = model.graph.eval()
    x, y = batch(model.input_shape[-2:], n=4, classes=3)
    fed = model.feed(x, y)
    g.forward(**fed)
    analytic = g.backward()

    for param, value in g.parameters().items():

        def loss_at(v, param=param):
            g.set_value(param, v)
            return float(g.forward(**fed))

        numeric, kinks = numerical_gradient(loss_at, value.copy())
        g.set_value(param, value)
        assert not kinks.any(), f"{param}: a finite-difference step crossed a kink"
        error = np.linalg.norm(analytic[param] - numeric) / np.linalg.norm(numeric)
        assert error < 1e-7, f"{param}: relative error {error:.2e}"


def test_same_seed_gives_the_same_initial_parameters():
    a = build_model("convnet", (8, 8), 10, seed=5).graph.parameters()
    b = build_model("convnet", (8, 8), 10, seed=5).graph.parameters()
    c = build_model("convnet", (8, 8), 10, seed=6).graph.parameters()

    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["conv1.W"], c["conv1.W"])


def test_convnet_fits_mnist_sized_images():
    model = build_model("convnet", (28, 28), 10)
    x, y = batch((28, 28), n=2)

    model.graph.forward(**model.feed(x, y))

    # 28 -> 14 -> 7 after two poolings, 32 channels
    assert model.graph.value("fc1.W").shape == (32 * 7 * 7, 128)
    assert model.graph.value("scores").shape == (2, 10)


def test_convnet_dropout_is_active_in_training_only():
    model = build_model("convnet", (8, 8), 10)
    x, y = batch()
    g = model.graph

    g.train().forward(**model.feed(x, y))
    first = g.value("scores").copy()
    g.forward(**model.feed(x, y))
    assert not np.array_equal(first, g.value("scores"))

    g.eval().forward(**model.feed(x, y))
    evaluated = g.value("scores").copy()
    g.forward(**model.feed(x, y))
    np.testing.assert_array_equal(evaluated, g.value("scores"))


def test_unknown_model_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown model 'resnet'.*mlp"):
        build_model("resnet", (8, 8), 10)


def test_every_model_has_complete_defaults():
    for name in MODELS:
        assert set(DEFAULTS[name]) == {
            "epochs",
            "batch_size",
            "lr",
            "optimizer",
            "weight_decay",
            "schedule",
        }


def test_model_repr_counts_parameters():
    # 64 * 10 weights + 10 biases
    assert "650 parameters" in repr(build_model("softmax", (8, 8), 10))
