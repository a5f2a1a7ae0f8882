"""Parameters on disk: a graph's parameters and gate buffers in one ``.npz``.

The file holds plain arrays and nothing else (it is read with
``allow_pickle=False``), under three kinds of keys:

- a parameter by its node name: ``fc1.W``;
- a buffer of a gate that has ``state_dict()``, as ``<gate node>/<key>``:
  ``bn1.batchnorm/running_mean``;
- an entry of the caller's ``extra`` dict as ``extra/<key>`` (optimizer
  state, the epoch, a schedule ...).

Writing goes to a temporary file in the same folder, which then replaces
the target in one step, so a crash never leaves half a checkpoint behind.
Loading checks every name, shape and dtype before it changes anything.
"""

import contextlib
import os
import tempfile
import zipfile

import numpy as np

from compgraph.errors import CompGraphError

__all__ = ["ParameterFileError", "save_parameters", "load_parameters", "atomic_file"]

EXTRA = "extra/"


class ParameterFileError(CompGraphError, ValueError):
    """A parameter file that cannot be read, or does not fit the graph."""


def save_parameters(graph, path, extra: dict | None = None) -> None:
    """Write the parameters, gate buffers and ``extra`` of ``graph`` to ``path``.

    Parameters
    ----------
    graph : ComputationalGraph
        Its parameters and the ``state_dict()`` of its gates are saved.
    path : str or os.PathLike
        The ``.npz`` file to write (the name is kept as given).
    extra : dict of str to array or number, optional
        Saved under ``extra/<key>`` and returned by :func:`load_parameters`.

    Examples
    --------
    >>> import os, tempfile
    >>> from compgraph import ComputationalGraph
    >>> g = ComputationalGraph()
    >>> w = g.parameter("w", np.array([1.0, 2.0]))
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> save_parameters(g, path, extra={"epoch": 3})
    >>> g.set_value("w", np.zeros(2))
    >>> load_parameters(g, path)
    {'epoch': array(3)}
    >>> g.value("w")
    array([1., 2.])
    """
    arrays = {name: np.asarray(value) for name, value in graph.parameters().items()}
    for key, value in _buffers(graph).items():
        _put(arrays, key, value, "a gate buffer")
    for key, value in (extra or {}).items():
        if not isinstance(key, str) or not key:
            raise ParameterFileError(f"extra keys are non-empty strings, got {key!r}")
        _put(arrays, EXTRA + key, value, "an extra entry")
    for key, value in arrays.items():
        if value.dtype.kind not in "biufcUS":
            raise ParameterFileError(
                f"cannot save {key!r}: its dtype {value.dtype} is not numeric, "
                "and the file holds plain arrays of numbers or strings only (no "
                "pickled objects)"
            )

    with atomic_file(path) as file:
        np.savez(file, **arrays)


@contextlib.contextmanager
def atomic_file(path, mode: str = "wb"):
    """A file that takes the place of ``path`` only once it is fully written.

    It is written beside ``path`` and renamed over it: a crash leaves the old
    file, never half a new one, and whatever stood at ``path`` (even a named
    pipe, whose opening would block) is replaced without being opened. The
    file gets the mode ``open()`` would give it. Text modes write UTF-8 with
    no newline translation.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> with atomic_file(target, "w") as file:
    ...     _ = file.write("written whole")
    >>> target.read_text()
    'written whole'
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{name}-", dir=folder)
    text = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
    try:
        os.fchmod(handle, 0o666 & ~_umask())  # mkstemp makes it private (0600)
        with os.fdopen(handle, mode, **text) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def _umask() -> int:
    """The process's umask; reading it means setting it, so set it back."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def load_parameters(graph, path) -> dict:
    """Load parameters and gate buffers from ``path`` into ``graph``; return extra.

    Every parameter of the graph and every buffer of its gates must be in
    the file with the same shape and dtype, and the file may hold nothing
    else but ``extra/`` entries; otherwise nothing is changed and a
    :class:`ParameterFileError` lists each difference (missing parameter
    ``'fc2.W'``, unexpected ``'fc3.b'``, shape (256, 10) in the file vs
    (256, 12) in the graph). Scalar parameters come back as Python floats.

    Returns
    -------
    dict
        The ``extra`` entries saved with the parameters, without the prefix,
        as numpy arrays (numbers become 0-d arrays).
    """
    path = os.fspath(path)
    stored = _read(path)
    parameters = graph.parameters()
    buffers = _buffers(graph)
    expected = {**parameters, **buffers}

    problems = []
    for name, value in expected.items():
        what = "parameter" if name in parameters else "gate buffer"
        if name not in stored:
            problems.append(f"missing {what} {name!r}")
            continue
        ours, theirs = np.asarray(value), stored[name]
        if theirs.shape != ours.shape:
            problems.append(
                f"{what} {name!r} has shape {theirs.shape} in the file vs "
                f"{ours.shape} in the graph"
            )
        elif theirs.dtype != ours.dtype:
            problems.append(
                f"{what} {name!r} has dtype {theirs.dtype} in the file vs "
                f"{ours.dtype} in the graph"
            )
    for name in stored:
        if name not in expected and not name.startswith(EXTRA):
            problems.append(f"unexpected {name!r} (not a parameter or gate buffer)")
    if problems:
        raise ParameterFileError(
            f"{path} does not fit the graph:\n  " + "\n  ".join(problems)
        )

    for name, value in parameters.items():
        loaded = stored[name]
        graph.set_value(name, float(loaded) if isinstance(value, float) else loaded)
    _load_buffers(graph, {k: stored[k] for k in buffers})
    return {k[len(EXTRA) :]: v for k, v in stored.items() if k.startswith(EXTRA)}


def _read(path) -> dict:
    """Every array of the ``.npz`` at ``path``, or a ParameterFileError naming it."""
    try:
        # Our own handle: numpy leaves it open when the archive is corrupt.
        with open(path, "rb") as file:
            archive = np.load(file, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ParameterFileError(
                    f"{path} holds a single .npy array, not an .npz archive of "
                    "named parameters; write it with save_parameters"
                )
            with archive:
                return {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
        if isinstance(error, (FileNotFoundError, ParameterFileError)):
            raise
        raise ParameterFileError(
            f"{path} is not a readable parameter file (an .npz of numeric "
            f"arrays): {type(error).__name__}: {error}"
        ) from error


def _buffers(graph) -> dict:
    """The buffers of every gate that has ``state_dict()``, keyed ``node/key``."""
    found = {}
    for name in graph.nodes("gate"):
        gate = graph.gate(name)
        if callable(getattr(gate, "state_dict", None)):
            for key, value in gate.state_dict().items():
                if value is not None:  # a statistic not yet measured
                    found[f"{name}/{key}"] = np.asarray(value)
    return found


def _load_buffers(graph, stored) -> None:
    by_gate = {}
    for key, value in stored.items():
        name, _, buffer = key.rpartition("/")
        by_gate.setdefault(name, {})[buffer] = value
    for name, state in by_gate.items():
        graph.gate(name).load_state_dict(state)


def _put(arrays, key, value, what):
    if key in arrays:
        raise ParameterFileError(
            f"cannot save {what} as {key!r}: a parameter already has that name"
        )
    arrays[key] = np.asarray(value)
