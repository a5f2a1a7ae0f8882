"""The student side of the sandbox: import a submission, answer requests.

This file runs as a script (``python -I runner.py IN_FD OUT_FD``) in a fresh
process that the grader started; it is the only grading code that shares a
process with student code. It therefore imports nothing from ``compgraph``
(the grader's checks, references and scores never enter this process) and
speaks plain JSON lines: numbers and flat lists, never pickles.

What it does, in order: read its configuration, lower its own resource
limits, preload the modules a submission may use, block imports of what the
submission is graded on, install the audit hook of ``guard.py`` (no
processes, no changes outside its own folder, no reading the grader's
files), import the submission, and then answer one request at a time.
Native code gets past the hook, and the stand-ins and the answers can be
forged; the grader relies in the end on limits set by the kernel, on the
process boundary and on comparing returned numbers with references it
computes itself.
"""

import contextlib
import errno
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import resource
import signal
import sys
import traceback
import types

__all__ = ["encode", "decode", "main"]


def encode(value):
    """A gate's value as JSON data: a number, ``None``, or a flat-array dict."""
    import numpy as np

    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("got a bool, expected a number or a numpy array")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, (list, tuple)):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"got a {type(value).__name__}, expected a number or a numpy array"
        )
    if value.dtype.kind not in "fiub":
        raise TypeError(f"got an array of dtype {value.dtype}, expected numbers")
    kind = "i" if value.dtype.kind in "iub" else "f"
    data = value.astype(np.int64 if kind == "i" else np.float64).ravel().tolist()
    return {"shape": list(value.shape), "dtype": kind, "data": data}


def decode(data):
    """Inverse of :func:`encode`: ``float``, ``None`` or a numpy array."""
    import numpy as np

    if data is None or isinstance(data, float):
        return data
    if isinstance(data, int) and not isinstance(data, bool):
        return float(data)
    if isinstance(data, dict):
        dtype = np.int64 if data.get("dtype") == "i" else np.float64
        array = np.array(data["data"], dtype=dtype)
        return array.reshape([int(n) for n in data["shape"]])
    raise TypeError(f"cannot decode a {type(data).__name__} as a value")


def _argument(value):
    """A constructor argument: an encoded array, or a plain JSON value."""
    return decode(value) if isinstance(value, dict) else value


def _refusal(dotted):
    return ImportError(
        f"the grader does not let a submission use {dotted}: your code is "
        "graded against the library's version, so write your own"
    )


class _Refused(type):
    """Metaclass of stand-ins for blocked names: any use raises ImportError."""

    def __getattr__(cls, attribute):
        raise _refusal(f"{cls.__qualname__}.{attribute}")


def _stand_in(dotted):
    def refuse(*args, **kwargs):
        raise _refusal(dotted)

    return _Refused(dotted, (), {"__init__": refuse, "__call__": refuse})


class _BlockedModule(types.ModuleType):
    """A blocked module: importing it works, using anything from it raises.

    So a stray ``from gates import AddGate`` costs only the code that uses
    it, not the whole file.
    """

    def __getattr__(self, attribute):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return _stand_in(f"{self.__name__}.{attribute}")


class _Blocker(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serve stand-ins for the modules a submission is graded against."""

    def __init__(self, blocked, allowed):
        self.blocked = tuple(blocked)
        self.allowed = tuple(allowed)

    def find_spec(self, name, path=None, target=None):
        if _matches(name, self.allowed) or not _matches(name, self.blocked):
            return None
        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec):
        module = _BlockedModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


def _matches(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


#: errno -> what it means here, added to the message of an OSError with it.
_EXPLAINED = {}


def _limit(config):
    """Lower this process's limits before any student code runs."""
    megabytes = config["memory_mb"] * 1024 * 1024
    cpu, cap = config["cpu_seconds"], config["file_bytes"]
    limits = [
        (resource.RLIMIT_AS, (megabytes, megabytes)),
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_FSIZE, (cap, cap)),
    ]
    for which, values in limits:
        try:
            resource.setrlimit(which, values)
        except (ValueError, OSError):  # macOS refuses RLIMIT_AS; Linux does not
            pass
    # Writing past the file limit fails with EFBIG instead of killing the
    # process, so the offending call ends with an error that names the limit.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _EXPLAINED[errno.EFBIG] = config["file_too_large"]
    user = config.get("user")
    if user is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(user[1])
        os.setuid(user[0])


def _preload(config):
    import numpy  # noqa: F401  (every submission may use numpy)

    for name in config.get("preload", ()):
        importlib.import_module(name)
    # ``gates.base`` (the Gate contract) without the rest of ``gates``.
    base = config.get("gates_base")
    if base:
        package = _BlockedModule("gates")
        package.__path__ = []
        sys.modules.setdefault("gates", package)
        spec = importlib.util.spec_from_file_location("gates.base", base)
        module = importlib.util.module_from_spec(spec)
        sys.modules["gates.base"] = module
        spec.loader.exec_module(module)
        package.base = module
    for name in list(sys.modules):
        if _matches(name, config["blocked"]) and not _matches(name, config["allowed"]):
            if name != "gates" or not base:
                del sys.modules[name]
    sys.meta_path.insert(0, _Blocker(config["blocked"], config["allowed"]))


def _load_guard():
    """``guard.py`` beside this file, loaded by its path (see its docstring)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guard.py")
    spec = importlib.util.spec_from_file_location("_compgraph_guard", path)
    guard = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(guard)
    return guard


def _import_submission(files):
    """Run each file as a module; keep what it defined even if it failed."""
    namespace, problems = {}, {}
    for path in files:
        name = os.path.splitext(os.path.basename(path))[0]
        module = types.ModuleType(name)
        module.__file__ = path
        sys.modules[name] = module
        try:
            with open(path, encoding="utf-8") as handle:
                source = handle.read()
            exec(compile(source, path, "exec"), module.__dict__)
        except SyntaxError as error:
            problems[name] = (
                f"SyntaxError in {os.path.basename(path)} line {error.lineno}: "
                f"{error.msg}"
            )
        except SystemExit as error:
            problems[name] = f"called sys.exit({error.code!r}) while being imported"
        except BaseException as error:  # noqa: B036  student code may raise anything
            problems[name] = _describe(error, "import")["message"]
        for key, value in module.__dict__.items():
            if isinstance(value, type) and key not in namespace:
                namespace[key] = value
    return namespace, problems


def _describe(error, where):
    frames = [
        f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}: {f.line}"
        for f in traceback.extract_tb(error.__traceback__)
        if not f.filename.endswith("runner.py")
    ]
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, OSError) and error.errno in _EXPLAINED:
        text += f": {_EXPLAINED[error.errno]}"
    return {"message": text[:1000], "where": where, "trace": frames[-3:]}


def _gate_request(request, namespace):
    import numpy as np

    cls = namespace.get(request["cls"])
    if cls is None:
        return {"missing": request["cls"]}

    def make():
        gate = cls(*[_argument(a) for a in request.get("args", ())])
        if request.get("training") is not None:
            gate.training = request["training"]
        return gate

    results, step, held = [], "__init__", ((), ())
    try:
        gate = make()
        for call in request["calls"]:
            if "f" in call:
                step = "__init__"
                if request.get("fresh"):
                    gate = make()
                if "t" in call:
                    gate.training = call["t"]
                step = "forward"
                inputs = [decode(v) for v in call["f"]]
                copies = [np.copy(v) for v in inputs]
                out = encode(gate.forward(*inputs))
                mutated = [
                    i
                    for i, (a, b) in enumerate(zip(inputs, copies))
                    if not np.array_equal(a, b, equal_nan=True)
                ]
                results.append({"out": out, "mutated": mutated})
                held = (inputs, copies)
            else:
                step = "backward"
                answer = _backward(gate, decode(call["b"]))
                answer["inputs_mutated"] = [
                    i
                    for i, (a, b) in enumerate(zip(*held))
                    if not np.array_equal(a, b, equal_nan=True)
                ]
                results.append(answer)
    except BaseException as error:  # noqa: B036  student code may raise anything
        results.append({"error": _describe(error, f"{request['cls']}.{step}")})
    return {"results": results}


def _backward(gate, upstream):
    """Run backward, counting calls to forward (a cache recomputed, not used)."""
    import numpy as np

    kept = np.copy(upstream)
    with _counting_forward(gate) as counter:
        grads = gate.backward(upstream)
    if not isinstance(grads, (tuple, list)):
        return {"not_tuple": type(grads).__name__}
    return {
        "grads": [encode(g) for g in grads],
        "forward_calls": counter["calls"],
        "upstream_mutated": not np.array_equal(upstream, kept, equal_nan=True),
    }


@contextlib.contextmanager
def _counting_forward(gate):
    """Count the calls of ``gate``'s forward while the block runs.

    However backward reaches it, through the instance (``self.forward``) or
    through a class (``type(self).forward(self, x)``, ``MyGate.forward``,
    ``super().forward``): every forward defined on the gate or its classes
    is wrapped, then put back.
    """
    counter = {"calls": 0, "depth": 0}
    kept = [
        (owner, vars(owner)["forward"])
        for owner in type(gate).__mro__
        if isinstance(vars(owner).get("forward"), types.FunctionType)
    ]
    for owner, forward in kept:
        owner.forward = _counted(forward, gate, counter)
    instance = getattr(gate, "__dict__", {})
    own = instance.get("forward")
    if own is not None:
        instance["forward"] = _counted(own, None, counter)
    try:
        yield counter
    finally:
        for owner, forward in kept:
            owner.forward = forward
        if own is not None:
            instance["forward"] = own


def _counted(forward, gate, counter):
    """``forward``, counting in ``counter`` its outermost calls on ``gate``.

    A ``gate`` of None counts every call (a forward stored on the instance,
    called without ``self``). Only the outermost call counts, so a forward
    that calls ``super().forward`` is one call.
    """

    def counting(*args, **kwargs):
        if counter["depth"] == 0 and (gate is None or (args and args[0] is gate)):
            counter["calls"] += 1
        counter["depth"] += 1
        try:
            return forward(*args, **kwargs)
        finally:
            counter["depth"] -= 1

    return counting


def _graph_request(request, namespace):
    import gates

    cls = namespace.get(request["cls"])
    if cls is None:
        return {"missing": request["cls"]}
    results = []
    step = "__init__"
    try:
        graph = cls()
        step = "building the graph"
        for node in request["nodes"]:
            if node[1] == "input":
                graph.add_input(node[0])
            else:
                name, gate_name, args, inputs = node
                gate = getattr(gates, gate_name)(*[_argument(a) for a in args])
                graph.add_gate(name, gate, list(inputs))
        for run in request["runs"]:
            if "f" in run:
                step = "forward"
                feed = {k: decode(v) for k, v in run["f"].items()}
                results.append({"out": encode(graph.forward(**feed))})
            else:
                step = "backward"
                grads = graph.backward(decode(run["b"]))
                if not isinstance(grads, dict):
                    raise TypeError(
                        f"backward returned a {type(grads).__name__}, expected a "
                        "dict of gradients by input name"
                    )
                results.append({"grads": {str(k): encode(v) for k, v in grads.items()}})
    except BaseException as error:  # noqa: B036
        results.append({"error": _describe(error, f"{request['cls']}.{step}")})
    return {"results": results}


HANDLERS = {"gate": _gate_request, "graph": _graph_request}


def main(argv=None):
    """Serve the grader: one JSON request per line in, one response per line out."""
    argv = sys.argv if argv is None else argv
    incoming = os.fdopen(int(argv[1]), "r", encoding="utf-8")
    out_fd = int(argv[2])
    write = os.write

    def send(message):
        # What the submission printed is shown with the task that printed it.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: B036, S110  a full or replaced stream
                pass
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[write(out_fd, data) :]

    config = json.loads(incoming.readline())
    _limit(config)
    os.chdir(config["workdir"])
    sys.path.insert(0, config["workdir"])
    _preload(config)
    sys.dont_write_bytecode = True  # the library's folders are not to be written
    _load_guard().install(config["workdir"], config.get("protect", ()))
    namespace, problems = _import_submission(config["files"])
    send({"ready": True, "problems": problems, "classes": sorted(namespace)})
    for line in incoming:
        request = json.loads(line)
        try:
            response = HANDLERS[request["op"]](request, namespace)
        except BaseException as error:  # noqa: B036
            response = {"fatal": _describe(error, request.get("op", "?"))}
        response["id"] = request["id"]
        send(response)


if __name__ == "__main__":
    main()
