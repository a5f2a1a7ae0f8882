import gzip
import json

import numpy as np
import pytest
from click.testing import CliRunner

from compgraph.cli import main
from compgraph.data import IDX_FILES, load_digits_split, write_idx


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    if result.exit_code not in (0,):
        # a one-line error through click, never an escaped exception
        assert isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "run"
    result = run("train", "--model", "softmax", "--epochs", "2", "--out", folder)
    assert result.exit_code == 0, result.output
    return folder, result


def test_train_prints_epochs_accuracy_and_confusion_matrix(run_dir):
    folder, result = run_dir
    out = result.stdout

    assert "class balance (train): 142 146 142" in out
    assert "epoch 1/2  train loss" in out and "epoch 2/2" in out
    assert "test accuracy: " in out
    assert "confusion matrix (rows: true class, columns: predicted)" in out
    assert f"run folder: {folder}" in out
    for name in ("config.json", "metrics.csv", "model.npz", "curves.png"):
        assert (folder / name).is_file()


def test_train_quiet_prints_only_the_final_accuracy(tmp_path):
    result = run(
        "train",
        "--model",
        "linear-svm",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        tmp_path / "q",
    )

    assert result.exit_code == 0
    assert result.stdout.startswith("test accuracy: ")
    assert len(result.stdout.strip().splitlines()) == 1


def test_config_records_the_options_to_repeat_the_run(run_dir):
    saved = json.loads((run_dir[0] / "config.json").read_text())

    assert saved["model"] == "softmax" and saved["epochs"] == 2
    assert saved["lr"] == 0.03 and saved["optimizer"] == "momentum"
    assert saved["seed"] == 0 and saved["data"] is None


def test_folder_holding_a_run_is_refused_without_resume(run_dir):
    result = run("train", "--model", "softmax", "--epochs", "2", "--out", run_dir[0])

    assert result.exit_code == 1
    assert "already holds a run (config.json); resume it (--resume)" in result.output


def test_resume_refuses_changed_settings(run_dir):
    result = run("train", "--resume", "--out", run_dir[0], "--lr", "0.5")

    assert result.exit_code == 2
    assert "--lr 0.5 differs from the run" in result.output


def test_resume_needs_an_out_folder():
    result = run("train", "--resume")

    assert result.exit_code == 2
    assert "--resume needs --out" in result.output


def test_resume_continues_with_more_epochs(tmp_path):
    folder = tmp_path / "r"
    run("train", "--model", "softmax", "--epochs", "1", "--quiet", "--out", folder)

    result = run("train", "--resume", "--out", folder, "--epochs", "2")

    assert result.exit_code == 0, result.output
    assert "resuming after epoch 1" in result.stdout
    assert "epoch 2/2" in result.stdout and "epoch 1/2" not in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "resnet"], "Invalid value for '--model': 'resnet' is not one"),
        (["--optimizer", "rmsprop"], "Invalid value for '--optimizer'"),
        (["--lr", "0"], "Invalid value for '--lr'"),
        (["--epochs", "0"], "Invalid value for '--epochs'"),
        (["--bogus"], "No such option '--bogus'"),
    ],
)
def test_unknown_model_or_option_is_a_usage_error(args, message):
    result = run("train", *args)

    assert result.exit_code == 2
    assert message in result.output


def test_diverging_loss_stops_naming_epoch_and_batch(tmp_path):
    folder = tmp_path / "nan"
    result = run(
        "train",
        "--model",
        "softmax",
        "--optimizer",
        "sgd",
        "--lr",
        "1e12",
        "--out",
        folder,
    )

    assert result.exit_code == 1
    assert "at epoch 1, batch" in result.output
    assert "the last good checkpoint (the initial parameters) is kept" in result.output
    assert (folder / "model.npz").is_file()


def write_mnist(folder, n_train=20, n_test=10, **broken):
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 6, 6), dtype=np.uint8),
        "train_labels": rng.integers(0, 3, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 6, 6), dtype=np.uint8),
        "test_labels": rng.integers(0, 3, n_test, dtype=np.uint8),
    }
    arrays.update(broken)
    folder.mkdir()
    for key, array in arrays.items():
        write_idx(folder / (IDX_FILES[key] + ".gz"), array)
    return folder


def test_trains_on_an_idx_folder(tmp_path):
    data = write_mnist(tmp_path / "mnist")

    result = run(
        "train",
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--data",
        data,
        "--out",
        tmp_path / "run",
    )

    assert result.exit_code == 0, result.output
    assert "20 train / 10 test images of 6x6, 3 classes" in result.stdout


@pytest.mark.parametrize(
    "damage, message",
    [
        ("missing", "has no t10k-labels-idx1-ubyte"),
        ("truncated", "is a truncated or damaged gzip file"),
        ("magic", "has magic number 0x00000701, not an IDX file"),
        ("count", "holds 20 images but train-labels-idx1-ubyte.gz holds 19 labels"),
    ],
)
def test_broken_idx_folder_gives_a_one_line_error(tmp_path, damage, message):
    short = {"train_labels": np.zeros(19, dtype=np.uint8)} if damage == "count" else {}
    data = write_mnist(tmp_path / "mnist", **short)
    labels = data / (IDX_FILES["test_labels"] + ".gz")
    if damage == "missing":
        labels.unlink()
    elif damage == "truncated":
        labels.write_bytes(labels.read_bytes()[:-6])
    elif damage == "magic":
        labels.write_bytes(gzip.compress(bytes([0, 0, 7, 1, 0, 0, 0, 10]) + bytes(10)))

    result = run("train", "--data", data, "--out", tmp_path / "run")

    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_evaluate_reports_the_saved_runs_accuracy(run_dir):
    folder, trained = run_dir

    result = run("evaluate", folder)

    assert result.exit_code == 0
    accuracy = trained.stdout.split("test accuracy: ")[1].split("%")[0]
    assert f"softmax after 2 epochs: test accuracy {accuracy}%" in result.stdout
    assert "confusion matrix" in result.stdout


def test_evaluate_refuses_a_folder_without_a_run(tmp_path):
    result = run("evaluate", tmp_path)

    assert result.exit_code == 1
    assert "holds no run: expected config.json and model.npz" in result.output


def test_predict_classifies_npy_and_png_images(run_dir, tmp_path):
    import matplotlib.image

    data = load_digits_split()
    digit, label = data.x_test[0], data.y_test[0]
    np.save(tmp_path / "digit.npy", digit)
    # dark ink on white paper, as a user would draw it
    matplotlib.image.imsave(tmp_path / "digit.png", 1 - digit / 16, cmap="gray")

    result = run("predict", run_dir[0], tmp_path / "digit.npy", tmp_path / "digit.png")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["class", "0", "1"]
    for line in lines[1:]:
        name, predicted, *probabilities = line.split()
        assert int(predicted) == label
        assert sum(map(float, probabilities)) == pytest.approx(1, abs=6e-3)


def test_predict_refuses_an_image_of_the_wrong_size(run_dir, tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((28, 28)))

    result = run("predict", run_dir[0], tmp_path / "big.npy")

    assert result.exit_code == 1
    assert "big.npy has shape (28, 28), but the model reads 8x8 images" in result.output
