"""Parameter files: exact round trips, precise refusals, atomic writes."""

import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from compgraph import CompGraphError, ComputationalGraph, nn
from compgraph.io import ParameterFileError, load_parameters, save_parameters


def model(out=10, seed=0, dtype=np.float64, hidden=256):
    g = ComputationalGraph()
    x = g.input("x")
    h = nn.Linear(8, hidden, rng=seed, dtype=dtype)(x)
    h = nn.BatchNorm(hidden, dtype=dtype)(h)
    nn.Linear(hidden, out, rng=seed + 1, dtype=dtype)(nn.ReLU()(h))
    return g


def test_round_trip_is_exact_with_batch_norm_buffers_and_extra(tmp_path, rng):
    g = model()
    g.forward(x=rng.normal(size=(16, 8)))  # moves the running statistics
    bn = g.gate("bn1.batchnorm")
    path = tmp_path / "model.npz"
    extra = {"epoch": 7, "optim/velocity/fc1.W": rng.normal(size=(8, 256))}
    save_parameters(g, path, extra=extra)

    fresh = model(seed=5)
    loaded = load_parameters(fresh, path)
    for name, value in g.parameters().items():
        assert np.array_equal(fresh.value(name), value)
        assert fresh.value(name).dtype == value.dtype
    fresh_bn = fresh.gate("bn1.batchnorm")
    assert np.array_equal(fresh_bn.running_mean, bn.running_mean)
    assert np.array_equal(fresh_bn.running_var, bn.running_var)
    assert loaded.keys() == extra.keys()
    assert loaded["epoch"] == 7
    assert np.array_equal(loaded["optim/velocity/fc1.W"], extra["optim/velocity/fc1.W"])

    x = rng.normal(size=(4, 8))
    g.eval()
    fresh.eval()
    assert np.array_equal(g.forward(x=x), fresh.forward(x=x))


def test_the_file_is_a_plain_npz_keyed_by_node_names(tmp_path):
    g = model()
    save_parameters(g, tmp_path / "m.npz", extra={"step": 3})
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == [
            "bn1.batchnorm/running_mean",
            "bn1.batchnorm/running_var",
            "bn1.beta",
            "bn1.gamma",
            "extra/step",
            "fc1.W",
            "fc1.b",
            "fc2.W",
            "fc2.b",
        ]


def test_scalar_parameters_come_back_as_floats(tmp_path):
    g = ComputationalGraph()
    g.parameter("w", 2.5) * g.input("x")
    save_parameters(g, tmp_path / "w.npz")
    g.set_value("w", 0.0)
    assert load_parameters(g, tmp_path / "w.npz") == {}
    assert g.value("w") == 2.5 and isinstance(g.value("w"), float)


# -- what does not fit is named, and nothing changes -------------------------------


def test_a_shape_mismatch_names_the_parameter_and_both_shapes(tmp_path):
    save_parameters(model(out=10), tmp_path / "m.npz")
    other = model(out=12)
    before = other.value("fc2.W").copy()
    message = (
        r"parameter 'fc2.W' has shape \(256, 10\) in the file vs \(256, 12\) "
        "in the graph"
    )
    with pytest.raises(ParameterFileError, match=message) as error:
        load_parameters(other, tmp_path / "m.npz")
    assert "'fc2.b' has shape (10,) in the file vs (12,)" in str(error.value)
    assert np.array_equal(other.value("fc2.W"), before)  # nothing loaded
    assert str(tmp_path / "m.npz") in str(error.value)


def test_missing_and_unexpected_parameters_are_each_named(tmp_path):
    g = ComputationalGraph()
    h = nn.Linear(8, 4, rng=0)(g.input("x"))
    nn.Linear(4, 3, rng=0, name="fc3")(h)
    save_parameters(g, tmp_path / "m.npz")

    other = ComputationalGraph()
    h = nn.Linear(8, 4, rng=0)(other.input("x"))
    nn.Linear(4, 3, rng=0)(h)
    with pytest.raises(ParameterFileError, match="missing parameter 'fc2.W'") as error:
        load_parameters(other, tmp_path / "m.npz")
    message = str(error.value)
    assert "missing parameter 'fc2.W'" in message
    assert "missing parameter 'fc2.b'" in message
    assert "unexpected 'fc3.b'" in message


def test_missing_batch_norm_buffers_are_named(tmp_path):
    g = ComputationalGraph()
    nn.Linear(8, 4, rng=0, name="fc1")(g.input("x"))
    save_parameters(g, tmp_path / "plain.npz")

    with_bn = ComputationalGraph()
    nn.BatchNorm(4)(nn.Linear(8, 4, rng=0)(with_bn.input("x")))
    match = "missing gate buffer 'bn1.batchnorm/running_mean'"
    with pytest.raises(ParameterFileError, match=match):
        load_parameters(with_bn, tmp_path / "plain.npz")


def test_a_dtype_mismatch_is_named(tmp_path):
    save_parameters(model(dtype=np.float32, hidden=4), tmp_path / "m.npz")
    match = "parameter 'fc1.W' has dtype float32 in the file vs float64 in the graph"
    with pytest.raises(ParameterFileError, match=match):
        load_parameters(model(hidden=4), tmp_path / "m.npz")


# -- files that are not parameter files -----------------------------------------------


def test_corrupt_and_foreign_files_are_refused_naming_the_file(tmp_path):
    g = model(hidden=4)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip archive at all")
    with pytest.raises(ParameterFileError, match="garbage.npz is not a readable"):
        load_parameters(g, garbage)

    good = tmp_path / "good.npz"
    save_parameters(g, good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ParameterFileError, match="truncated.npz is not a readable"):
        load_parameters(g, truncated)

    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ParameterFileError, match="single.npy holds a single .npy"):
        load_parameters(g, single)

    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{"fc1.W": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ParameterFileError, match="pickled.npz is not a readable"):
        load_parameters(g, pickled)

    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(ParameterFileError, match="empty.npz"):
        load_parameters(g, empty)

    with pytest.raises(FileNotFoundError):
        load_parameters(g, tmp_path / "absent.npz")


def test_a_damaged_member_is_refused(tmp_path):
    g = model(hidden=4)
    path = tmp_path / "m.npz"
    save_parameters(g, path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("fc1.W.npy")
    data[info.header_offset + 30 + len(info.filename) + 140] ^= 0xFF  # flip one byte
    path.write_bytes(bytes(data))
    with pytest.raises(ParameterFileError, match="m.npz is not a readable"):
        load_parameters(g, path)


def test_parameter_file_error_is_a_compgraph_error_and_a_value_error():
    assert issubclass(ParameterFileError, CompGraphError)
    assert issubclass(ParameterFileError, ValueError)


# -- writing is atomic ---------------------------------------------------------------


def test_a_failed_save_leaves_the_old_file_and_no_temporary(tmp_path):
    g = model(hidden=4)
    path = tmp_path / "m.npz"
    save_parameters(g, path)
    before = path.read_bytes()
    with pytest.raises(ParameterFileError, match="'extra/note'.*not numeric"):
        save_parameters(g, path, extra={"note": np.array([object()])})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def test_a_save_replaces_the_file_and_leaves_no_temporary(tmp_path):
    g = model(hidden=4)
    path = tmp_path / "m.npz"
    save_parameters(g, path, extra={"epoch": 1})
    save_parameters(g, path, extra={"epoch": 2, "note": "resumed"})
    extra = load_parameters(g, path)
    assert extra["epoch"] == 2 and extra["note"] == "resumed"
    assert os.listdir(tmp_path) == ["m.npz"]


def test_a_saved_file_gets_the_mode_of_an_ordinary_file_not_a_private_one(tmp_path):
    previous = os.umask(0o022)
    try:
        save_parameters(model(hidden=4), tmp_path / "m.npz")
    finally:
        os.umask(previous)

    assert os.stat(tmp_path / "m.npz").st_mode & 0o777 == 0o644


def test_extra_keys_must_be_strings():
    with pytest.raises(ParameterFileError, match="extra keys are non-empty strings"):
        save_parameters(model(hidden=4), "unused.npz", extra={1: 2})


def test_a_refused_file_is_closed(tmp_path):
    good = tmp_path / "good.npz"
    save_parameters(model(hidden=4), good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])

    # An unclosed handle only shows when it is collected: watch a fresh process.
    script = (
        "import gc, sys\n"
        "from compgraph import ComputationalGraph, ParameterFileError, nn\n"
        "from compgraph.io import load_parameters\n"
        "g = ComputationalGraph(); nn.Linear(3, 4)(g.input('x'))\n"
        "try:\n"
        "    load_parameters(g, sys.argv[1])\n"
        "except ParameterFileError:\n"
        "    pass\n"
        "gc.collect()\n"
    )
    run = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-c", script, truncated],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "ResourceWarning" not in run.stderr
