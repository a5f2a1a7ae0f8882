"""The ``compgraph train``, ``evaluate`` and ``predict`` commands.

Everything here is presentation: options, the progress bar, tables, and
turning the library's errors into one-line messages with a non-zero exit.
The work is done by :mod:`compgraph.train`.
"""

import time
from pathlib import Path

import click
import numpy as np

from compgraph.errors import CompGraphError
from compgraph.models import DEFAULTS, MODELS
from compgraph.runs import (
    CHECKPOINT,
    CURVES,
    OPTIMIZERS,
    SCHEDULES,
    TrainConfig,
    read_config,
)
from compgraph.train import DivergedError, Reporter

__all__ = ["train", "evaluate", "predict", "format_confusion"]


def _defaults_help(option: str) -> str:
    return ", ".join(f"{m} {DEFAULTS[m][option]}" for m in MODELS)


@click.command()
@click.option(
    "--model",
    type=click.Choice(list(MODELS)),
    default="mlp",
    show_default=True,
    help="The network to train.",
)
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False),
    help="A folder of MNIST-format IDX files (train-images-idx3-ubyte[.gz] ...); "
    "default: the 8x8 digits bundled with scikit-learn.",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    help=f"Passes over the training set [{_defaults_help('epochs')}].",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    help=f"Images per step [{_defaults_help('batch_size')}].",
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0, min_open=True),
    help=f"Learning rate [{_defaults_help('lr')}].",
)
@click.option(
    "--optimizer",
    type=click.Choice(OPTIMIZERS),
    help="sgd, momentum (SGD with momentum 0.9) or adam "
    f"[{_defaults_help('optimizer')}].",
)
@click.option(
    "--weight-decay",
    type=click.FloatRange(min=0),
    help="L2 regularization: for linear-svm and softmax the strength of a "
    "penalty node wd * sum(W**2) in the loss graph; for mlp and convnet the "
    f"optimizer's weight decay [{_defaults_help('weight_decay')}].",
)
@click.option(
    "--schedule",
    type=click.Choice(SCHEDULES),
    help="Learning rate per epoch: constant, or cosine (down to 0 at the last "
    f"epoch) [{_defaults_help('schedule')}].",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Run folder [runs/<model>-<date>-<time>].",
)
@click.option("--resume", is_flag=True, help="Continue the run in --out.")
@click.option("--quiet", is_flag=True, help="Print only the final accuracy.")
@click.pass_context
def train(
    ctx,
    model,
    data,
    epochs,
    batch_size,
    lr,
    optimizer,
    weight_decay,
    schedule,
    seed,
    out,
    resume,
    quiet,
):
    """Train a network on handwritten digits and save the run in a folder.

    The folder gets config.json (the settings), model.npz (the checkpoint,
    rewritten after every epoch), metrics.csv and curves.png. Stop a run
    at any time and continue it with --resume --out FOLDER.
    """
    from compgraph import train as training

    asked = dict(
        model=model,
        data=None if data is None else str(Path(data).resolve()),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        optimizer=optimizer,
        weight_decay=weight_decay,
        schedule=schedule,
        seed=seed,
    )
    if resume:
        if out is None:
            raise click.UsageError("--resume needs --out, the run folder to continue")
        config = _resumed(ctx, Path(out), asked)
    else:
        config = _guarded(TrainConfig, **asked)
        out = out or _fresh_folder(model)
    reporter = _ProgressReporter(quiet)
    try:
        result = training.train(config, out, resume=resume, reporter=reporter)
    except KeyboardInterrupt:
        reporter.close()
        click.echo(
            f"\ninterrupted: epoch {reporter.done} is saved in {out}; continue with "
            f"compgraph train --resume --out {out}",
            err=True,
        )
        ctx.exit(130)
    except DivergedError as error:
        reporter.close()
        kept = error.epoch - 1
        what = f"epoch {kept}" if kept else "the initial parameters"
        raise click.ClickException(
            f"{error}; the last good checkpoint ({what}) is kept in "
            f"{Path(out) / CHECKPOINT}"
        ) from None
    except CompGraphError as error:
        reporter.close()
        raise click.ClickException(_one_line(error)) from None

    n_test = int(result.confusion.sum())
    correct = int(np.trace(result.confusion))
    click.echo(f"test accuracy: {100 * result.test_accuracy:.2f}% ({correct}/{n_test})")
    if not quiet:
        click.echo(format_confusion(result.confusion))
        click.echo(
            f"run folder: {out}  (curves: {Path(out) / CURVES}, "
            f"checkpoint: {Path(out) / CHECKPOINT})"
        )


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
def evaluate(run_dir):
    """Reload the run in RUN_DIR and report its test accuracy."""
    from compgraph import train as training

    result = _guarded(training.evaluate, run_dir)
    n_test = int(result.confusion.sum())
    click.echo(
        f"{result.config.model} after {len(result.metrics)} epochs: test accuracy "
        f"{100 * result.test_accuracy:.2f}% "
        f"({int(np.trace(result.confusion))}/{n_test})"
    )
    click.echo(format_confusion(result.confusion))


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("images", nargs=-1, required=True, type=click.Path())
def predict(run_dir, images):
    """Classify IMAGES (PNG or .npy) with the network saved in RUN_DIR.

    A .npy file holds one image in the dataset's own pixel units (0 to 16
    for the digits). A PNG must have the dataset's size (8x8 for the
    digits); it is turned to gray, inverted if it is dark ink on light
    paper, and scaled to the dataset's range.
    """
    from compgraph import train as training
    from compgraph.data import load_image

    saved = _guarded(read_config, run_dir, raw=True)
    shape, pixel_max = tuple(saved["image_shape"]), saved["pixel_max"]
    loaded = np.stack([_guarded(load_image, path, shape, pixel_max) for path in images])
    probabilities = _guarded(training.predict, run_dir, loaded)
    width = max(len(Path(p).name) for p in images)
    header = (
        " " * width
        + "  class "
        + "".join(f"{c:>7}" for c in range(len(probabilities[0])))
    )
    click.echo(header)
    for path, row in zip(images, probabilities):
        cells = "".join(f"{p:7.3f}" for p in row)
        click.echo(f"{Path(path).name:<{width}}  {int(np.argmax(row)):>5} {cells}")


def format_confusion(counts: np.ndarray) -> str:
    """A confusion matrix as a text table: true classes down, predicted across.

    >>> print(format_confusion(np.array([[3, 1], [0, 4]])))
    confusion matrix (rows: true class, columns: predicted)
         0  1
    0    3  1
    1    .  4
    """
    width = max(3, len(str(counts.max())) + 1)
    lines = ["confusion matrix (rows: true class, columns: predicted)"]
    lines.append(" " * 3 + "".join(f"{c:>{width}}" for c in range(len(counts))))
    for true, row in enumerate(counts):
        cells = "".join(f"{n if n else '.':>{width}}" for n in row)
        lines.append(f"{true:<3}{cells}")
    return "\n".join(lines)


class _ProgressReporter(Reporter):
    """A tqdm bar over batches and one summary line per epoch."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None
        self.done = 0

    def run_start(self, config, data, folder, epoch):
        self.epochs, self.done = config.epochs, epoch
        if self.quiet:
            return
        balance = np.bincount(data.y_train, minlength=data.n_classes)
        h, w = data.image_shape
        click.echo(
            f"data: {data.name}, {len(data.y_train)} train / {len(data.y_test)} "
            f"test images of {h}x{w}, {data.n_classes} classes"
        )
        click.echo(
            f"class balance (train): {' '.join(map(str, balance))} "
            f"(min {balance.min()}, max {balance.max()})"
        )
        click.echo(
            f"model: {config.model}, {config.optimizer} lr {config.lr:g}, batch "
            f"{config.batch_size}, weight decay {config.weight_decay:g}, seed "
            f"{config.seed}; run folder {folder}"
        )
        if epoch:
            click.echo(f"resuming after epoch {epoch}")
        self.started = time.perf_counter()

    def epoch_start(self, epoch, n_batches):
        from tqdm.auto import tqdm

        self.epoch_started = time.perf_counter()
        self.total, self.count = 0.0, 0
        self.bar = tqdm(
            total=n_batches,
            desc=f"epoch {epoch}/{self.epochs}",
            leave=False,
            disable=True if self.quiet else None,  # None: no bar when not a terminal
            unit="batch",
        )

    def batch_end(self, epoch, batch, loss):
        self.total, self.count = self.total + loss, self.count + 1
        self.bar.set_postfix_str(f"loss {self.total / self.count:.4f}", refresh=False)
        self.bar.update(1)

    def epoch_end(self, row):
        self.close()
        self.done = row["epoch"]
        if self.quiet:
            return
        seconds = time.perf_counter() - self.epoch_started
        click.echo(
            f"epoch {row['epoch']:>{len(str(self.epochs))}}/{self.epochs}  "
            f"train loss {row['train_loss']:.4f}  "
            f"train acc {100 * row['train_accuracy']:6.2f}%  "
            f"test acc {100 * row['test_accuracy']:6.2f}%  {seconds:5.2f} s"
        )

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _resumed(ctx, folder: Path, asked: dict) -> TrainConfig:
    """The saved config, with --epochs applied; other given options must agree."""
    from click.core import ParameterSource

    saved = _guarded(read_config, folder)
    given = {
        name: value
        for name, value in asked.items()
        if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE
    }
    for name, value in given.items():
        if name != "epochs" and getattr(saved, name) != value:
            option = "--" + name.replace("_", "-")
            raise click.UsageError(
                f"{option} {value} differs from the run in {folder} "
                f"({getattr(saved, name)}); a resumed run keeps its settings, "
                "only --epochs may change"
            )
    if "epochs" in given:
        saved.epochs = given["epochs"]
    return saved


def _fresh_folder(model: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder, n = Path("runs") / f"{model}-{stamp}", 1
    while folder.exists():
        n += 1
        folder = Path("runs") / f"{model}-{stamp}-{n}"
    return str(folder)


def _guarded(function, *args, **kwargs):
    """Run ``function``; turn compgraph's errors into a one-line click error."""
    try:
        return function(*args, **kwargs)
    except CompGraphError as error:
        raise click.ClickException(_one_line(error)) from None


def _one_line(error) -> str:
    return " ".join(str(error).split())
