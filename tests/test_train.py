import csv
import json

import numpy as np
import pytest

from compgraph import io
from compgraph.data import IDX_FILES, load_digits_split, write_idx
from compgraph.runs import METRICS, TrainConfig, TrainingError, load_run
from compgraph.train import (
    DivergedError,
    Reporter,
    confusion_matrix,
    evaluate,
    predict,
    train,
)

# -- the results that must hold (bundled digits, default settings, seed 0) ------
# Every model's full default run: the convnet's 30 epochs take about ten
# seconds on two cores, the others a few seconds each.

TARGETS = {"linear-svm": 0.94, "softmax": 0.95, "mlp": 0.97, "convnet": 0.98}


@pytest.fixture(scope="module")
def default_runs(tmp_path_factory):
    return {
        model: train(TrainConfig(model), tmp_path_factory.mktemp(model))
        for model in TARGETS
    }


@pytest.mark.parametrize("model", list(TARGETS))
def test_default_run_reaches_its_target_accuracy(default_runs, model):
    result = default_runs[model]

    assert result.test_accuracy >= TARGETS[model]
    assert result.metrics[-1]["test_accuracy"] == result.test_accuracy
    assert len(result.metrics) == TrainConfig(model).epochs


def test_same_seed_gives_the_same_numbers_twice(tmp_path):
    first = train(TrainConfig("mlp", epochs=3, seed=7), tmp_path / "a")
    second = train(TrainConfig("mlp", epochs=3, seed=7), tmp_path / "b")
    other = train(TrainConfig("mlp", epochs=3, seed=8), tmp_path / "c")

    def numbers(result):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in result]

    assert numbers(first.metrics) == numbers(second.metrics)
    assert numbers(first.metrics) != numbers(other.metrics)
    a, b = (load_run(r.folder)[1].graph.parameters() for r in (first, second))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


class StopAt(Reporter):
    """Interrupt the run as Ctrl-C would, in the middle of an epoch."""

    def __init__(self, epoch, batch):
        self.epoch, self.batch = epoch, batch

    def batch_end(self, epoch, batch, loss):
        if (epoch, batch) == (self.epoch, self.batch):
            raise KeyboardInterrupt


@pytest.mark.parametrize("model", ["convnet", "softmax"])
def test_resumed_run_ends_with_the_parameters_of_an_uninterrupted_run(tmp_path, model):
    # The convnet covers Adam's moments, the cosine schedule and the dropout
    # masks' random stream; softmax covers SGD with momentum.
    config = TrainConfig(model, epochs=4, seed=3)
    whole = train(config, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "cut", reporter=StopAt(epoch=3, batch=5))

    assert len(load_run(tmp_path / "cut")[3]) == 2  # epoch 3 was in flight
    resumed = train(config, tmp_path / "cut", resume=True)

    expected = load_run(whole.folder)[1].graph.parameters()
    got = load_run(resumed.folder)[1].graph.parameters()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])
    assert [r["test_loss"] for r in resumed.metrics] == [
        r["test_loss"] for r in whole.metrics
    ]


def test_resume_may_add_epochs_but_not_change_settings(tmp_path):
    train(TrainConfig("softmax", epochs=1), tmp_path)

    with pytest.raises(TrainingError, match="with lr=0.5: it was trained with lr=0.03"):
        train(TrainConfig("softmax", epochs=2, lr=0.5), tmp_path, resume=True)
    result = train(TrainConfig("softmax", epochs=2), tmp_path, resume=True)

    assert [row["epoch"] for row in result.metrics] == [1, 2]
    assert json.loads((tmp_path / "config.json").read_text())["epochs"] == 2


def test_nothing_to_resume_is_an_error(tmp_path):
    with pytest.raises(TrainingError, match="nothing to resume"):
        train(TrainConfig("softmax"), tmp_path, resume=True)


def test_folder_holding_another_run_is_refused(tmp_path):
    train(TrainConfig("softmax", epochs=1), tmp_path)
    before = (tmp_path / "model.npz").read_bytes()

    with pytest.raises(TrainingError, match="already holds a run"):
        train(TrainConfig("softmax", epochs=1), tmp_path)
    assert (tmp_path / "model.npz").read_bytes() == before


def test_loss_turning_nan_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    config = TrainConfig("softmax", epochs=3, lr=1e12, optimizer="sgd")

    with pytest.raises(DivergedError, match=r"epoch 1, batch \d+ \(lr 1e\+12\)") as e:
        train(config, tmp_path)

    assert e.value.epoch == 1 and e.value.batch > 1
    _, model, _, metrics = load_run(tmp_path)
    assert metrics == []  # the checkpoint written before the first epoch
    initial = TrainConfig("softmax")
    fresh = load_run_model_at_start(initial)
    for name, value in model.graph.parameters().items():
        assert np.all(np.isfinite(value))
        np.testing.assert_array_equal(value, fresh[name])


def load_run_model_at_start(config):
    from compgraph.models import build_model

    return build_model(config.model, (8, 8), 10, seed=config.seed).graph.parameters()


def test_run_folder_holds_config_metrics_curves_and_checkpoint(default_runs):
    result = default_runs["softmax"]
    folder = result.folder

    saved = json.loads((folder / "config.json").read_text())
    rows = list(csv.DictReader((folder / "metrics.csv").open()))
    assert saved["model"] == "softmax" and saved["epochs"] == 40
    assert saved["image_shape"] == [8, 8] and saved["n_classes"] == 10
    assert TrainConfig.from_dict(saved) == result.config
    assert tuple(rows[0]) == METRICS and len(rows) == 40
    assert float(rows[-1]["test_accuracy"]) == result.test_accuracy
    assert (folder / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    extra = io.load_parameters(load_run(folder)[1].graph, folder / "model.npz")
    assert {"optim", "rng", "metrics", "data/mean", "data/std"} <= set(extra)
    assert not list(folder.glob("*.tmp")) and not list(folder.glob(".tmp-*"))


def test_evaluate_reloads_the_run_and_agrees(default_runs):
    result = default_runs["mlp"]

    again = evaluate(result.folder)

    assert again.test_accuracy == result.test_accuracy
    np.testing.assert_array_equal(again.confusion, result.confusion)
    assert again.confusion.sum() == 360


def test_predict_gives_probabilities_that_match_evaluation(default_runs):
    data = load_digits_split()
    folder = default_runs["mlp"].folder

    probabilities = predict(folder, data.x_test[:50])

    assert probabilities.shape == (50, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert np.mean(probabilities.argmax(axis=1) == data.y_test[:50]) >= 0.95


def test_confusion_matrix_counts_true_against_predicted():
    counts = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)

    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_trains_on_idx_files_of_another_size(tmp_path):
    # Twelve-pixel "images" whose class is which third holds the bright bar.
    rng = np.random.default_rng(0)

    def images(n):
        labels = rng.integers(0, 3, n).astype(np.uint8)
        x = rng.integers(0, 40, (n, 12, 12)).astype(np.uint8)
        for i, label in enumerate(labels):
            x[i, 4 * label : 4 * label + 4] += 200
        return x, labels

    (tmp_path / "data").mkdir()
    for part, n in (("train", 90), ("test", 30)):
        x, y = images(n)
        write_idx(tmp_path / "data" / (IDX_FILES[f"{part}_images"] + ".gz"), x)
        write_idx(tmp_path / "data" / IDX_FILES[f"{part}_labels"], y)

    for model in ("softmax", "convnet"):
        config = TrainConfig(model, epochs=3, data=str(tmp_path / "data"))
        result = train(config, tmp_path / model)

        assert result.confusion.shape == (3, 3)
        assert result.test_accuracy == 1.0


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(model="resnet"), "unknown model 'resnet'; choose one of linear-svm"),
        (dict(optimizer="rmsprop"), "unknown optimizer 'rmsprop'"),
        (dict(schedule="linear"), "unknown schedule 'linear'"),
        (dict(epochs=0), "epochs must be at least 1"),
        (dict(lr=-1.0), "lr must be a positive number"),
        (dict(weight_decay=-1.0), "weight_decay must be >= 0"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(TrainingError, match=message):
        TrainConfig(**settings)
