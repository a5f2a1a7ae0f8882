"""Epoch time and final accuracy of `compgraph train` on the bundled digits.

Contenders, on the same split (80/20, stratified, seed 0) and the same
standardized inputs, each trained for the model's default number of epochs:

- compgraph: ``compgraph.train.train`` with the model's defaults (Adam with
  weight decay, cosine schedule, batches of 32), exactly what the command runs;
- numpy: the same network and recipe written by hand with the layer
  functions of ``numpy_reference.py`` and a hand-written Adam;
- scikit-learn: ``MLPClassifier`` with the same hidden sizes, Adam, the same
  batch size and learning rate (its own L2 term, no schedule); mlp only;
- torch: the same network and recipe in PyTorch on the CPU, float64, when
  it is installed.

An epoch's time is the training pass alone (shuffle, then forward, backward
and an optimizer step per batch), without the evaluation that follows. The
contenders take turns epoch by epoch (each of compgraph's epochs is followed
by one epoch of every other contender), so a burst of load on the shared
machine hits them alike; the table gives the median epoch of a run, and the
best of ``--repeats`` runs. Every contender uses one BLAS thread (as `compgraph train`
does), so the figures compare the code, not the thread pools.

Each model's run also reports its accuracy against its target (the test
suite checks the same targets on the same default runs).

Run:  python benchmarks/bench_train.py [--repeats 2] [--models mlp,convnet]
      [--out FILE]
"""

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"  # before numpy is imported

import argparse  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy_reference as ref  # noqa: E402

from compgraph.data import Standardizer, load_digits_split  # noqa: E402
from compgraph.models import DEFAULTS  # noqa: E402
from compgraph.train import Reporter, TrainConfig, train  # noqa: E402

try:
    import torch
except ImportError:  # torch is optional: its rows are left out
    torch = None

TARGETS = {"mlp": 0.97, "convnet": 0.98}


def digits():
    data = load_digits_split()
    s = Standardizer.fit(data.x_train)
    return s(data.x_train), data.y_train, s(data.x_test), data.y_test


def cosine(lr, epoch, epochs):
    """The rate during ``epoch`` (from 0), as compgraph's CosineLR per epoch."""
    return lr * (1 + math.cos(math.pi * epoch / epochs)) / 2


# -- numpy, by hand --------------------------------------------------------------


class HandMLP:
    def __init__(self, rng, sizes=(64, 128, 64, 10)):
        self.p = {}
        for i, (a, b) in enumerate(zip(sizes, sizes[1:]), start=1):
            self.p[f"W{i}"] = rng.normal(size=(a, b)) * np.sqrt(2 / a)
            self.p[f"b{i}"] = np.zeros(b)

    def scores(self, x, train=True):
        h, caches = x.reshape(len(x), -1), []
        for i in (1, 2, 3):
            h, cache = ref.affine_forward(h, self.p[f"W{i}"], self.p[f"b{i}"])
            caches.append(cache)
            if i < 3:
                h, cache = ref.relu_forward(h)
                caches.append(cache)
        return h, caches

    def grads(self, dscores, caches):
        g, d = {}, dscores
        for i in (3, 2, 1):
            if i < 3:
                d = ref.relu_backward(d, caches.pop())
            d, g[f"W{i}"], g[f"b{i}"] = ref.affine_backward(d, caches.pop())
        return g


class HandConvNet:
    """compgraph's convnet: [conv3x3 pad 1, relu, pool 2] x 2, fc-relu-dropout, fc."""

    def __init__(self, rng, p_drop=0.5):
        self.rng, self.p_drop = rng, p_drop
        he = lambda shape, fan: rng.normal(size=shape) * np.sqrt(2 / fan)  # noqa: E731
        self.p = {
            "W1": he((16, 1, 3, 3), 9),
            "b1": np.zeros(16),
            "W2": he((32, 16, 3, 3), 144),
            "b2": np.zeros(32),
            "W3": he((128, 128), 128),
            "b3": np.zeros(128),
            "W4": he((128, 10), 128),
            "b4": np.zeros(10),
        }

    def scores(self, x, train=True):
        p = self.p
        h, c1 = ref.conv_forward(x.reshape(len(x), 1, 8, 8), p["W1"], p["b1"], 1, 1)
        h, r1 = ref.relu_forward(h)
        h, m1 = ref.max_pool_forward(h, 2)
        h, c2 = ref.conv_forward(h, p["W2"], p["b2"], 1, 1)
        h, r2 = ref.relu_forward(h)
        h, m2 = ref.max_pool_forward(h, 2)
        h, a3 = ref.affine_forward(h, p["W3"], p["b3"])
        h, r3 = ref.relu_forward(h)
        mask = None
        if train:
            mask = (self.rng.random(h.shape) >= self.p_drop) / (1 - self.p_drop)
            h = h * mask
        s, a4 = ref.affine_forward(h, p["W4"], p["b4"])
        return s, (c1, r1, m1, c2, r2, m2, a3, r3, mask, a4)

    def grads(self, d, caches):
        c1, r1, m1, c2, r2, m2, a3, r3, mask, a4 = caches
        g = {}
        d, g["W4"], g["b4"] = ref.affine_backward(d, a4)
        d = ref.relu_backward(d * mask, r3)
        d, g["W3"], g["b3"] = ref.affine_backward(d, a3)
        d = ref.relu_backward(ref.max_pool_backward(d.reshape(m2[1].shape), m2), r2)
        d, g["W2"], g["b2"] = ref.conv_backward(d, c2)
        d = ref.relu_backward(ref.max_pool_backward(d, m1), r1)
        _, g["W1"], g["b1"] = ref.conv_backward(d, c1)
        return g


class NumpyContender:
    """The network by hand, with Adam, weight decay and the cosine schedule."""

    def __init__(self, model, epochs, x, y, x_test, y_test, seed=0):
        self.settings, self.epochs, self.done = DEFAULTS[model], epochs, 0
        self.x, self.y, self.x_test, self.y_test = x, y, x_test, y_test
        self.rng = np.random.default_rng(seed)
        self.net = (HandMLP if model == "mlp" else HandConvNet)(self.rng)
        self.m = {k: np.zeros_like(v) for k, v in self.net.p.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.net.p.items()}
        self.step = 0

    def epoch(self):
        settings, net, b1, b2 = self.settings, self.net, 0.9, 0.999
        lr = cosine(settings["lr"], self.done, self.epochs)
        start = time.perf_counter()
        order = self.rng.permutation(len(self.y))
        for i in range(0, len(self.y), settings["batch_size"]):
            chosen = order[i : i + settings["batch_size"]]
            scores, caches = net.scores(self.x[chosen])
            _, dscores = ref.softmax_loss(scores, self.y[chosen])
            grads = net.grads(dscores, caches)
            self.step += 1
            for k, w in net.p.items():
                g = grads[k] + settings["weight_decay"] * w  # weight decay
                self.m[k] = b1 * self.m[k] + (1 - b1) * g
                self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
                m_hat = self.m[k] / (1 - b1**self.step)
                v_hat = self.v[k] / (1 - b2**self.step)
                w -= lr * m_hat / (np.sqrt(v_hat) + 1e-8)
        self.done += 1
        return time.perf_counter() - start

    def accuracy(self):
        predicted = self.net.scores(self.x_test, train=False)[0].argmax(axis=1)
        return float(np.mean(predicted == self.y_test))


# -- scikit-learn ------------------------------------------------------------------


class SklearnContender:
    """MLPClassifier, one epoch per ``partial_fit`` (Adam, shuffled batches)."""

    def __init__(self, model, epochs, x, y, x_test, y_test):
        from sklearn.neural_network import MLPClassifier

        settings = DEFAULTS["mlp"]
        self.x, self.y = x.reshape(len(x), -1), y
        self.x_test, self.y_test = x_test.reshape(len(x_test), -1), y_test
        self.classifier = MLPClassifier(
            hidden_layer_sizes=(128, 64),
            solver="adam",
            batch_size=settings["batch_size"],
            learning_rate_init=settings["lr"],
            # sklearn scales its L2 gradient alpha * W by 1 / batch size
            alpha=settings["weight_decay"] * settings["batch_size"],
            random_state=0,
        )

    def epoch(self):
        start = time.perf_counter()
        self.classifier.partial_fit(self.x, self.y, classes=np.arange(10))
        return time.perf_counter() - start

    def accuracy(self):
        return float(self.classifier.score(self.x_test, self.y_test))


# -- torch -------------------------------------------------------------------------


class TorchContender:
    """The same network and recipe in PyTorch, float64, one thread."""

    def __init__(self, model, epochs, x, y, x_test, y_test, seed=0):
        torch.manual_seed(seed)
        torch.set_num_threads(1)
        nn = torch.nn
        if model == "mlp":
            layers = [nn.Flatten(), nn.Linear(64, 128), nn.ReLU()]
            layers += [nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)]
        else:
            layers = [nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 16, 3, padding=1)]
            layers += [nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1)]
            layers += [nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(128, 128)]
            layers += [nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10)]
        self.net = nn.Sequential(*layers).double()
        self.settings = DEFAULTS[model]
        self.optimizer = torch.optim.Adam(
            self.net.parameters(),
            lr=self.settings["lr"],
            weight_decay=self.settings["weight_decay"],
        )
        self.schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, epochs
        )
        self.x = torch.from_numpy(x.reshape(len(x), -1))
        self.y = torch.from_numpy(y)
        self.x_test, self.y_test = x_test.reshape(len(x_test), -1), y_test
        self.rng = np.random.default_rng(seed)

    def epoch(self):
        batch = self.settings["batch_size"]
        self.net.train()
        start = time.perf_counter()
        order = torch.from_numpy(self.rng.permutation(len(self.y)))
        for i in range(0, len(self.y), batch):
            chosen = order[i : i + batch]
            scores = self.net(self.x[chosen])
            loss = torch.nn.functional.cross_entropy(scores, self.y[chosen])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        seconds = time.perf_counter() - start
        self.schedule.step()
        return seconds

    def accuracy(self):
        self.net.eval()
        with torch.no_grad():
            scores = self.net(torch.from_numpy(self.x_test))
        return float((scores.argmax(1).numpy() == self.y_test).mean())


# -- the report ----------------------------------------------------------------------


class Interleave(Reporter):
    """After each of compgraph's epochs, one epoch of every other contender."""

    def __init__(self, others):
        self.others, self.times = others, {name: [] for name in others}

    def epoch_end(self, row):
        for name, contender in self.others.items():
            self.times[name].append(contender.epoch())


def measure(model, repeats, data):
    epochs = DEFAULTS[model]["epochs"]
    best = {}
    for _ in range(repeats):
        others = {"numpy (by hand)": NumpyContender(model, epochs, *data)}
        if model == "mlp":
            name = "scikit-learn MLPClassifier"
            others[name] = SklearnContender(model, epochs, *data)
        if torch is not None:
            others["torch (CPU, float64)"] = TorchContender(model, epochs, *data)
        turns = Interleave(others)
        with tempfile.TemporaryDirectory() as folder:
            run = train(TrainConfig(model), folder, reporter=turns)
        results = {
            "compgraph": ([r["seconds"] for r in run.metrics], run.test_accuracy)
        }
        for name, contender in others.items():
            results[name] = (turns.times[name], contender.accuracy())
        for name, (times, accuracy) in results.items():
            epoch = statistics.median(times)
            if epoch < best.get(name, (math.inf,))[0]:
                best[name] = (epoch, accuracy)
    return epochs, best


def report(results) -> str:
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average "
        f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}; Python "
        f"{platform.python_version()}, numpy {np.__version__}; one BLAS thread.",
        "",
        "| model | contender | epochs | ms per epoch | vs numpy | test accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for model, (epochs, best) in results.items():
        floor = best["numpy (by hand)"][0]
        for name, (seconds, accuracy) in best.items():
            lines.append(
                f"| {model} | {name} | {epochs} | {1000 * seconds:.1f} | "
                f"{seconds / floor:.2f}x | {100 * accuracy:.2f}% |"
            )
    for model, (_, best) in results.items():
        accuracy = best["compgraph"][1]
        verdict = "met" if accuracy >= TARGETS[model] else "NOT MET"
        lines.append(
            f"\n{model}: compgraph test accuracy {100 * accuracy:.2f}%, target "
            f"{100 * TARGETS[model]:.0f}%: {verdict}."
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", default="mlp,convnet")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    data = digits()
    results = {m: measure(m, args.repeats, data) for m in args.models.split(",")}
    text = report(results)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
