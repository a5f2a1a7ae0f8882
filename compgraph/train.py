"""Training classifiers in a run folder: the loop, checkpoints, resume, metrics.

:func:`train` fits one of :data:`compgraph.models.MODELS` to a dataset by
mini-batch gradient descent on its graph: for each batch, ``forward`` to the
loss, ``backward``, one optimizer step. Everything lands in a run folder:

=============== =============================================================
``config.json`` every setting of the run, enough to repeat it
``model.npz``   parameters, optimizer state, random-number states, metrics
                so far, and the standardization; rewritten atomically after
                every epoch (and once before the first)
``metrics.csv`` one row per epoch: losses, accuracies, learning rate, time
``curves.png``  loss and accuracy per epoch
=============== =============================================================

An interrupted run loses at most the epoch in flight: ``resume=True``
reloads the checkpoint and continues, and ends with exactly the parameters
of an uninterrupted run (the checkpoint restores the shuffling and dropout
random streams and the optimizer's moments too). A loss that turns NaN or
infinite stops the run with :class:`DivergedError`, leaving the checkpoint
of the last complete epoch in place.
"""

import csv
import functools
import io as _io
import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from compgraph import io, optim
from compgraph.data import Dataset, Standardizer, load_digits_split, load_idx_dir
from compgraph.errors import CompGraphError
from compgraph.models import DEFAULTS, MODELS, Model, build_model

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

#: Optimizer names accepted by :class:`TrainConfig`.
OPTIMIZERS = ("sgd", "momentum", "adam")
#: Learning-rate schedules: ``cosine`` lowers the rate to 0 over the epochs.
SCHEDULES = ("constant", "cosine")
#: The columns of ``metrics.csv``.
METRICS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    "lr",
    "seconds",
)
CONFIG, CHECKPOINT, METRICS_CSV, CURVES = (
    "config.json",
    "model.npz",
    "metrics.csv",
    "curves.png",
)
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


class TrainingError(CompGraphError, ValueError):
    """A run that cannot start or continue: bad settings or run folder."""


class DivergedError(TrainingError):
    """The loss became NaN or infinite; ``epoch`` and ``batch`` say where."""

    def __init__(self, message: str, epoch: int, batch: int):
        super().__init__(message)
        self.epoch, self.batch = epoch, batch


@dataclass
class TrainConfig:
    """Every setting of a run; ``config.json`` holds exactly these fields.

    Fields left at ``None`` take the model's :data:`~compgraph.models.DEFAULTS`.
    ``data`` is ``None`` for the bundled digits or a folder of IDX files.

    Examples
    --------
    >>> TrainConfig("softmax").lr
    0.03
    >>> TrainConfig("mlp", epochs=3).epochs
    3
    """

    model: str = "mlp"
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    weight_decay: float | None = None
    schedule: str | None = None
    seed: int = 0
    data: str | None = None
    split_seed: int = 0
    momentum: float = 0.9

    def __post_init__(self):
        if self.model not in MODELS:
            raise TrainingError(
                f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}"
            )
        for name, value in DEFAULTS[self.model].items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        if self.optimizer not in OPTIMIZERS:
            raise TrainingError(
                f"unknown optimizer {self.optimizer!r}; choose one of "
                f"{', '.join(OPTIMIZERS)}"
            )
        if self.schedule not in SCHEDULES:
            raise TrainingError(
                f"unknown schedule {self.schedule!r}; choose one of "
                f"{', '.join(SCHEDULES)}"
            )
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise TrainingError(
                    f"{name} must be at least 1, got {getattr(self, name)}"
                )
        if not self.lr > 0 or not math.isfinite(self.lr):
            raise TrainingError(f"lr must be a positive number, got {self.lr}")
        if not self.weight_decay >= 0:
            raise TrainingError(f"weight_decay must be >= 0, got {self.weight_decay}")

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """Rebuild a config from ``config.json``, skipping keys that are not fields."""
        names = {f.name for f in fields(cls)}
        known = {k: v for k, v in values.items() if k in names}
        return cls(**known)


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


def read_config(folder, *, raw: bool = False):
    """The :class:`TrainConfig` of the run in ``folder`` (``raw``: the whole JSON).

    The JSON also records the image shape, the number of classes and the
    pixel range of the data the run was trained on.

    Raises
    ------
    TrainingError
        If ``folder`` holds no run.
    """
    folder = Path(folder)
    if not (folder / CONFIG).is_file() or not (folder / CHECKPOINT).is_file():
        raise TrainingError(
            f"{str(folder)!r} holds no run: expected {CONFIG} and {CHECKPOINT} "
            "written by compgraph train"
        )
    saved = _read_json(folder / CONFIG)
    return saved if raw else TrainConfig.from_dict(saved)


def load_run(folder, *, with_loss: bool = True):
    """``(config, model, standardizer, metrics)`` of the run in ``folder``.

    The model's parameters are those of the last checkpoint.
    """
    saved = read_config(folder, raw=True)
    config = TrainConfig.from_dict(saved)
    model = build_model(
        config.model,
        saved["image_shape"],
        saved["n_classes"],
        weight_decay=config.weight_decay,
        seed=config.seed,
        with_loss=with_loss,
    )
    extra = io.load_parameters(model.graph, Path(folder) / CHECKPOINT)
    standardize = Standardizer(extra["data/mean"], extra["data/std"])
    metrics = _decode(extra["metrics"])
    return config, model, standardize, metrics


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


# -- the run folder ------------------------------------------------------------


def _claim_folder(folder: Path):
    taken = [n for n in (CONFIG, CHECKPOINT, METRICS_CSV) if (folder / n).exists()]
    if taken:
        raise TrainingError(
            f"{str(folder)!r} already holds a run ({taken[0]}); resume it "
            "(--resume) or choose another output folder (--out)"
        )
    folder.mkdir(parents=True, exist_ok=True)


def _resumed_config(folder: Path, asked: TrainConfig) -> TrainConfig:
    """The folder's config; ``asked`` may change its epochs, nothing else."""
    try:
        saved = read_config(folder, raw=True)
    except TrainingError:
        raise TrainingError(
            f"nothing to resume in {str(folder)!r}: it has no {CONFIG} and "
            f"{CHECKPOINT} from an earlier run"
        ) from None
    config = TrainConfig.from_dict(saved)
    for f in fields(TrainConfig):
        ours, theirs = getattr(asked, f.name), getattr(config, f.name)
        if f.name != "epochs" and ours != theirs:
            raise TrainingError(
                f"cannot resume the run in {str(folder)!r} with {f.name}={ours!r}: "
                f"it was trained with {f.name}={theirs!r}; only epochs may change"
            )
    if asked.epochs != config.epochs:
        config.epochs = saved["epochs"] = asked.epochs
        _write_json(folder / CONFIG, saved)
    return config


def _config_json(config, data) -> dict:
    from compgraph import __version__

    values = asdict(config)
    values.update(
        image_shape=list(data.image_shape),
        n_classes=data.n_classes,
        pixel_max=data.pixel_max,
        dataset=repr(data),
        compgraph_version=__version__,
    )
    return values


def _save_checkpoint(folder, model, optimizer, schedule, shuffle, metrics, standardize):
    state = {"optimizer": optimizer.state_dict()}
    if schedule is not None:
        state["schedule"] = schedule.state_dict()
    skeleton, arrays = _split_state(state, "optim")
    extra = {
        "optim": _encode(skeleton),
        "rng": _encode(_rng_states(model.graph, shuffle)),
        "metrics": _encode(metrics),
        "data/mean": standardize.mean,
        "data/std": standardize.std,
        **arrays,
    }
    io.save_parameters(model.graph, folder / CHECKPOINT, extra=extra)


def _load_checkpoint(folder, model, optimizer, schedule, shuffle) -> list:
    extra = io.load_parameters(model.graph, folder / CHECKPOINT)
    state = _join_state(_decode(extra["optim"]), extra)
    optimizer.load_state_dict(state["optimizer"])
    if schedule is not None:
        schedule.load_state_dict(state["schedule"])
    states = _decode(extra["rng"])
    shuffle.bit_generator.state = states.pop("shuffle")
    for key, state in states.items():
        node, attribute = key.split(":")
        getattr(model.graph.gate(node), attribute).bit_generator.state = state
    return _decode(extra["metrics"])


def _rng_states(graph, shuffle) -> dict:
    """The shuffling stream and every gate's own (dropout masks) by node."""
    states = {"shuffle": shuffle.bit_generator.state}
    for node in graph.nodes("gate"):
        for attribute, value in vars(graph.gate(node)).items():
            if isinstance(value, np.random.Generator):
                states[f"{node}:{attribute}"] = value.bit_generator.state
    return states


def _encode(values) -> np.ndarray:
    """JSON as an array of bytes: the checkpoint holds numeric arrays only.

    JSON keeps Python floats exactly (shortest repr round-trips) and the
    128-bit integers of the random-number states.
    """
    return np.frombuffer(json.dumps(values).encode(), dtype=np.uint8)


def _decode(array: np.ndarray):
    return json.loads(array.tobytes().decode())


def _split_state(state, prefix):
    """Replace the arrays in a nested state by references; return both."""
    arrays = {}

    def walk(value, path):
        if isinstance(value, np.ndarray):
            key = f"{prefix}/{len(arrays)}"
            arrays[key] = value
            return {"@array": key}
        if isinstance(value, dict):
            return {str(k): walk(v, f"{path}/{k}") for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(value)]
        if isinstance(value, np.generic):
            return value.item()
        return value

    return walk(state, prefix), arrays


def _join_state(skeleton, arrays):
    if isinstance(skeleton, dict):
        if set(skeleton) == {"@array"}:
            return np.array(arrays[skeleton["@array"]])
        return {k: _join_state(v, arrays) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [_join_state(v, arrays) for v in skeleton]
    return skeleton


def _write_metrics(folder, metrics):
    text = _io.StringIO()
    writer = csv.DictWriter(text, fieldnames=METRICS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(metrics)
    _atomic_write(folder / METRICS_CSV, text.getvalue().encode())


def _plot_curves(metrics, path):
    """Loss and accuracy per epoch, side by side, drawn off-screen (Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    epochs = [row["epoch"] for row in metrics]
    figure = Figure(figsize=(9, 3.5))
    FigureCanvasAgg(figure)
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    for part in ("train", "test"):
        style = dict(marker="o", markersize=3, label=part)
        loss_axes.plot(epochs, [row[f"{part}_loss"] for row in metrics], **style)
        accuracy = [100 * row[f"{part}_accuracy"] for row in metrics]
        accuracy_axes.plot(epochs, accuracy, **style)
    loss_axes.set(xlabel="epoch", ylabel="loss", title="loss")
    accuracy_axes.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.grid(alpha=0.3)
        axes.legend()
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.14, top=0.9, wspace=0.25)
    buffer = _io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    _atomic_write(path, buffer.getvalue())


def _atomic_write(path: Path, payload: bytes):
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(payload)
    os.replace(temporary, path)


def _write_json(path, values):
    _atomic_write(path, (json.dumps(values, indent=2) + "\n").encode())


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise TrainingError(f"cannot read {str(path)!r}: {error}") from error
