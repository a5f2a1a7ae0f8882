"""Training classifiers in a run folder: the loop, resume, evaluation, prediction.

:func:`train` fits one of :data:`compgraph.models.MODELS` to a dataset by
mini-batch gradient descent on its graph: for each batch, ``forward`` to the
loss, ``backward``, one optimizer step. Everything lands in a run folder
(:mod:`compgraph.runs` holds the settings, :class:`TrainConfig`, and the
folder's files): the config, a checkpoint rewritten atomically after every
epoch, the metrics and the curves.

An interrupted run loses at most the epoch in flight: ``resume=True``
reloads the checkpoint and continues, and ends with exactly the parameters
of an uninterrupted run (the checkpoint restores the shuffling and dropout
random streams and the optimizer's moments too). A loss that turns NaN or
infinite stops the run with :class:`DivergedError`, leaving the checkpoint
of the last complete epoch in place.

The settings, errors and readers of :mod:`compgraph.runs` are exported here
too, so that ``from compgraph.train import TrainConfig, train`` is all a
script needs.
"""

import functools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compgraph import optim
from compgraph.data import Dataset, Standardizer, load_digits_split, load_idx_dir
from compgraph.models import Model, build_model
from compgraph.runs import (
    CONFIG,
    CURVES,
    METRICS,
    OPTIMIZERS,
    SCHEDULES,
    TrainConfig,
    TrainingError,
    _claim_folder,
    _config_json,
    _load_checkpoint,
    _plot_curves,
    _resumed_config,
    _save_checkpoint,
    _write_json,
    _write_metrics,
    load_run,
    read_config,
)

__all__ = [
    "TrainConfig",
    "TrainingError",
    "DivergedError",
    "Reporter",
    "RunResult",
    "train",
    "evaluate",
    "predict",
    "load_run",
    "read_config",
    "confusion_matrix",
    "OPTIMIZERS",
    "SCHEDULES",
    "METRICS",
]

_EVAL_BATCH = 500


def _one_blas_thread(function):
    """Run ``function`` with a single BLAS thread.

    The products here are small (a batch of 32 rows by a few hundred
    columns): threads cost more to wake than they save, and when other
    processes share the cores they can make a step ten times slower. One
    thread also fixes the order of every sum, so runs repeat bit for bit.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return function(*args, **kwargs)

    return wrapper


class DivergedError(TrainingError):
    """The loss became NaN or infinite; ``epoch`` and ``batch`` say where."""

    def __init__(self, message: str, epoch: int, batch: int):
        super().__init__(message)
        self.epoch, self.batch = epoch, batch


class Reporter:
    """Hooks the training loop calls; subclass to show progress (the CLI does).

    The default does nothing, so the library itself never prints.
    """

    def run_start(self, config: TrainConfig, data: Dataset, folder: Path, epoch: int):
        """Before the first epoch; ``epoch`` is the last one already done."""

    def epoch_start(self, epoch: int, n_batches: int):
        """Before the first batch of ``epoch`` (counted from 1)."""

    def batch_end(self, epoch: int, batch: int, loss: float):
        """After the optimizer step of ``batch`` (counted from 1)."""

    def epoch_end(self, row: dict):
        """After the checkpoint of an epoch; ``row`` is its metrics.csv row."""


@dataclass
class RunResult:
    """What a run or an evaluation ends with."""

    folder: Path
    config: TrainConfig
    metrics: list
    test_accuracy: float
    confusion: np.ndarray

    def __repr__(self):
        return (
            f"<RunResult {str(self.folder)!r}: {self.config.model}, "
            f"{len(self.metrics)} epochs, test accuracy {self.test_accuracy:.4f}>"
        )


@_one_blas_thread
def train(
    config: TrainConfig,
    folder,
    *,
    resume: bool = False,
    reporter: Reporter | None = None,
) -> RunResult:
    """Train ``config.model`` in run folder ``folder``; return its final result.

    Parameters
    ----------
    config : TrainConfig
        The settings. With ``resume``, the folder's own config is used
        instead, except for ``epochs``, which may grow.
    folder : str or Path
        The run folder; created if needed. A folder that already holds a
        run is refused unless ``resume`` is set.
    resume : bool, default=False
        Continue the run in ``folder`` from its last checkpoint.
    reporter : Reporter, optional
        Receives progress events (batches, epochs).

    Raises
    ------
    TrainingError
        A folder holding another run, or nothing to resume.
    DivergedError
        The loss became NaN or infinite.

    Examples
    --------
    >>> import tempfile
    >>> result = train(TrainConfig("softmax", epochs=1), tempfile.mkdtemp())
    >>> result.test_accuracy > 0.9
    True
    """
    folder = Path(folder)
    reporter = reporter or Reporter()
    if resume:
        config = _resumed_config(folder, config)
    else:
        _claim_folder(folder)
    data = load_data(config)
    standardize = Standardizer.fit(data.x_train)
    x_train, x_test = standardize(data.x_train), standardize(data.x_test)
    model = _model_for(config, data)
    optimizer = _optimizer(config, model)
    schedule = _schedule(config, optimizer)
    shuffle = np.random.default_rng(config.seed)
    if resume:
        metrics = _load_checkpoint(folder, model, optimizer, schedule, shuffle)
    else:
        metrics = []
        _write_json(folder / CONFIG, _config_json(config, data))
        _save_checkpoint(
            folder, model, optimizer, schedule, shuffle, metrics, standardize
        )
    reporter.run_start(config, data, folder, len(metrics))

    try:
        for epoch in range(len(metrics) + 1, config.epochs + 1):
            start = time.perf_counter()
            loss = _train_epoch(
                model,
                optimizer,
                x_train,
                data.y_train,
                config,
                epoch,
                shuffle,
                reporter,
            )
            seconds = time.perf_counter() - start
            _, train_pred = _scores_pass(model, x_train, data.y_train)
            test_loss, test_pred = _scores_pass(model, x_test, data.y_test)
            lr = optimizer.lr
            if schedule is not None:
                schedule.step()
            row = dict(
                epoch=epoch,
                train_loss=loss,
                train_accuracy=float(np.mean(train_pred == data.y_train)),
                test_loss=test_loss,
                test_accuracy=float(np.mean(test_pred == data.y_test)),
                lr=float(lr),
                seconds=seconds,
            )
            metrics.append(row)
            _save_checkpoint(
                folder, model, optimizer, schedule, shuffle, metrics, standardize
            )
            _write_metrics(folder, metrics)
            reporter.epoch_end(row)
    finally:
        # Drawing takes longer than an epoch on the digits: once per run,
        # even one that stops early.
        if metrics:
            _plot_curves(metrics, folder / CURVES)

    _, test_pred = _scores_pass(model, x_test, data.y_test)
    accuracy = float(np.mean(test_pred == data.y_test))
    confusion = confusion_matrix(data.y_test, test_pred, data.n_classes)
    return RunResult(folder, config, metrics, accuracy, confusion)


@_one_blas_thread
def evaluate(folder) -> RunResult:
    """Reload the run in ``folder`` and measure its test accuracy.

    Raises
    ------
    TrainingError
        If ``folder`` holds no run.
    """
    config, model, standardize, metrics = load_run(folder)
    data = load_data(config)
    loss, predicted = _scores_pass(model, standardize(data.x_test), data.y_test)
    accuracy = float(np.mean(predicted == data.y_test))
    confusion = confusion_matrix(data.y_test, predicted, data.n_classes)
    return RunResult(Path(folder), config, metrics, accuracy, confusion)


@_one_blas_thread
def predict(folder, images: np.ndarray) -> np.ndarray:
    """Class probabilities, shape (N, n_classes), for raw images (N, H, W).

    ``images`` are in the dataset's raw pixel units (0 to 16 for the
    digits); they are standardized as the training images were. The model
    runs without a label input (see :mod:`compgraph.models`).
    """
    config, model, standardize, _ = load_run(folder, with_loss=False)
    images = standardize(np.asarray(images, dtype=np.float64))
    model.graph.eval()
    scores = model.graph.forward(**model.feed(images))
    # softmax of the scores, shifted by their maximum so exp cannot overflow
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def load_data(config: TrainConfig) -> Dataset:
    """The dataset a config names: the bundled digits, or an IDX folder."""
    if config.data is None:
        return load_digits_split(seed=config.split_seed)
    return load_idx_dir(config.data)


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """``counts[i, j]``: how many examples of class ``i`` were predicted ``j``.

    >>> confusion_matrix([0, 1, 1], [0, 0, 1], 2)
    array([[1, 0],
           [1, 1]])
    """
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return counts


# -- the loop ------------------------------------------------------------------


def _train_epoch(model, optimizer, x, y, config, epoch, shuffle, reporter):
    """One pass over the shuffled training set; return the mean batch loss."""
    graph = model.graph.train()
    order = shuffle.permutation(len(y))
    starts = range(0, len(y), config.batch_size)
    reporter.epoch_start(epoch, len(starts))
    total = 0.0
    # Overflow on the way to a NaN is expected with too high a learning rate;
    # it is reported below as one error naming the epoch and the batch.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for batch, start in enumerate(starts, start=1):
            chosen = order[start : start + config.batch_size]
            loss = float(graph.forward(**model.feed(x[chosen], y[chosen])))
            if not math.isfinite(loss):
                raise DivergedError(
                    f"the loss became {loss} at epoch {epoch}, batch {batch} "
                    f"(lr {config.lr:g}); lower the learning rate",
                    epoch,
                    batch,
                )
            for _ in graph.backward_steps():  # backward() without its dict
                pass
            optimizer.step()
            total += loss * len(chosen)
            reporter.batch_end(epoch, batch, loss)
    return total / len(y)


def _scores_pass(model, x, y):
    """Mean loss and predicted classes over ``x`` in evaluation mode."""
    graph = model.graph.eval()
    predicted, total = [], 0.0
    for start in range(0, len(y), _EVAL_BATCH):
        fed = model.feed(x[start : start + _EVAL_BATCH], y[start : start + _EVAL_BATCH])
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            total += float(graph.forward(**fed)) * len(fed[model.inputs])
        predicted.append(np.argmax(graph.value(model.scores), axis=1))
    graph.train()
    return total / len(y), np.concatenate(predicted)


def _model_for(config, data) -> Model:
    return build_model(
        config.model,
        data.image_shape,
        data.n_classes,
        weight_decay=config.weight_decay,
        seed=config.seed,
    )


def _optimizer(config, model):
    # The linear models' weight decay is a penalty node of the loss graph;
    # the deep ones ask the optimizer for it (model.optimizer_weight_decay).
    decay = model.optimizer_weight_decay
    if config.optimizer == "adam":
        return optim.Adam(model.graph, lr=config.lr, weight_decay=decay)
    momentum = config.momentum if config.optimizer == "momentum" else 0.0
    return optim.SGD(model.graph, lr=config.lr, momentum=momentum, weight_decay=decay)


def _schedule(config, optimizer):
    if config.schedule == "cosine":
        return optim.CosineLR(optimizer, total_steps=config.epochs)
    return None
