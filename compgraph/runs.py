"""The run folder of a training run: its settings, checkpoints and metrics.

:func:`compgraph.train.train` writes every run to a folder of its own:

=============== =============================================================
``config.json`` every setting of the run, enough to repeat it
``model.npz``   parameters, optimizer state, random-number states, metrics
                so far, and the standardization; rewritten atomically after
                every epoch (and once before the first)
``metrics.csv`` one row per epoch: losses, accuracies, learning rate, time
``curves.png``  loss and accuracy per epoch
=============== =============================================================

This module holds the settings (:class:`TrainConfig`), reads a run back
(:func:`read_config`, :func:`load_run`) and writes those files; every
write goes to a temporary file first, so an interrupted write leaves the
previous version in place.
"""

import csv
import io as _io
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from compgraph import io
from compgraph.data import Standardizer
from compgraph.errors import CompGraphError
from compgraph.models import DEFAULTS, MODELS, build_model

__all__ = [
    "TrainConfig",
    "TrainingError",
    "read_config",
    "load_run",
    "OPTIMIZERS",
    "SCHEDULES",
    "METRICS",
    "CONFIG",
    "CHECKPOINT",
    "METRICS_CSV",
    "CURVES",
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


class TrainingError(CompGraphError, ValueError):
    """A run that cannot start or continue: bad settings or run folder."""


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
    with io.atomic_file(path) as file:
        file.write(payload)


def _write_json(path, values):
    _atomic_write(path, (json.dumps(values, indent=2) + "\n").encode())


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise TrainingError(f"cannot read {str(path)!r}: {error}") from error
