"""Built-in assignment ``layers``: the gates of a convolutional network.

Affine, ReLU, softmax, softmax cross-entropy, multiclass SVM loss,
convolution, max pooling, batch norm and dropout, each graded like the
lecture's gates (forward, backward and contract visible; hidden cases and
the gradient check after the due date), against compgraph's own layer gates.
"""

import numpy as np

from compgraph.grading.api import Assignment, Case, Random
from compgraph.grading.gatetasks import gate_tasks
from compgraph.grading.skeleton import gate_skeleton
from gates.activations import ReLUGate
from gates.conv import Conv2dGate
from gates.losses import HingeLossGate, SoftmaxCrossEntropyGate, SoftmaxGate
from gates.normalization import BatchNormGate, DropoutGate
from gates.pooling import MaxPool2dGate
from gates.tensor import AffineGate

__all__ = ["build", "GATES"]

_LABELS = "Scores are (N, C) or (C,), labels integers of shape (N,) or (); the loss "
_MEAN = _LABELS + "is the mean over the N samples, and labels get no gradient (None)."

#: (class students write, the library's reference, a note for the skeleton);
#: the skeleton adds what is accepted at ties and kinks itself.
GATES = [
    ("AffineGate", AffineGate, "Inputs x (N, D), W (D, M), b (M,)."),
    ("ReLUGate", ReLUGate, None),
    ("SoftmaxGate", SoftmaxGate, "Softmax over the last axis (axis=-1)."),
    ("SoftmaxCrossEntropyGate", SoftmaxCrossEntropyGate, _MEAN),
    ("HingeLossGate", HingeLossGate, _MEAN),
    (
        "Conv2dGate",
        Conv2dGate,
        "Inputs x (N, C, H, W), w (F, C, KH, KW), b (F,); stride and padding are ints.",
    ),
    ("MaxPool2dGate", MaxPool2dGate, "kernel_size and stride are ints."),
    (
        "BatchNormGate",
        BatchNormGate,
        "Graded in training mode on x of shape (N, D): normalize with the "
        "batch's mean and biased variance.",
    ),
    (
        "DropoutGate",
        DropoutGate,
        "Create self.rng = np.random.default_rng(seed) in __init__; in training "
        "(self.training True) draw each forward's mask as "
        "self.rng.random(x.shape) >= p, scaled by 1 / (1 - p); in evaluation "
        "the gate is the identity.",
    ),
]

#: Constructor arguments of each graded gate.
ARGS = {"Conv2dGate": (2, 1), "MaxPool2dGate": (2, 1), "DropoutGate": (0.5, 0)}


def _labels(*values):
    return np.array(values, dtype=np.int64)


def _cases():
    rng = np.random.default_rng(2024)
    a = lambda *shape: rng.normal(size=shape)  # noqa: E731
    pool = np.array([[1.0, 2, 3], [4, 9, 5], [6, 7, 8]]).reshape(1, 1, 3, 3)
    ties = np.array([[1.0, 5, 5], [2, 3, 0], [5, 1, 4]]).reshape(1, 1, 3, 3)
    return {
        "AffineGate": (
            [Case(a(2, 3), a(3, 4), a(4))],
            [
                Case(a(2, 2, 3), a(6, 2), a(2), label="image batch"),
                Random((4, 5), (5, 3), (3,)),
            ],
        ),
        "ReLUGate": (
            [Case(np.array([-1.0, 2.0, 3.0])), Case(a(2, 3))],
            [Case(np.array([[-2.0, 0.0, 3.0]]), label="kink at 0"), Random((3, 4))],
        ),
        "SoftmaxGate": (
            [Case(np.array([1.0, 2.0, 3.0]), upstream=np.array([1.0, 0.0, 0.0]))],
            [Case(np.array([1000.0, 999.0, 0.0]), label="large"), Random((3, 4))],
        ),
        "SoftmaxCrossEntropyGate": (
            [Case(a(3, 4), _labels(0, 3, 1))],
            [
                Case(np.array([1e8, 1e8]), np.array(1), label="C10"),
                Case(np.array([1000.0, 999.0, 0.0]), np.array(0), label="C11"),
                Random((5, 3), (5,), labels={1: 3}),
            ],
        ),
        "HingeLossGate": (
            [Case(np.array([[3.2, 5.1, -1.7]]), _labels(0), label="lecture")],
            [Case(a(4, 5), _labels(0, 4, 2, 2)), Random((3, 4), (3,), labels={1: 4})],
        ),
        "Conv2dGate": (
            [Case(a(1, 2, 5, 5), a(3, 2, 3, 3), a(3))],
            [
                Case(a(2, 1, 6, 5), a(2, 1, 3, 2), a(2)),
                Random((1, 2, 4, 4), (2, 2, 3, 3), (2,)),
            ],
        ),
        "MaxPool2dGate": (
            [Case(pool, label="C16")],
            [Case(ties, label="ties"), Random((2, 2, 4, 4))],
        ),
        "BatchNormGate": (
            [
                Case(
                    np.array([[1.0], [2.0], [3.0], [4.0]]),
                    np.ones(1),
                    np.zeros(1),
                    upstream=np.array([[0.5], [-1.0], [2.0], [0.25]]),
                    label="C15",
                )
            ],
            [
                Random((6, 3), (3,), (3,)),
                Case(a(5, 2) * 100, a(2), a(2), label="scale"),
            ],
        ),
        "DropoutGate": (
            [Case(a(4, 5))],
            [
                Random((3, 6)),
                Case(a(2, 3, 2)),
                Case(a(2, 3), training=False, label="evaluation"),
            ],
        ),
    }


def build() -> Assignment:
    """The ``layers`` assignment.

    >>> a = build()
    >>> a.max_score, a.filename
    (45.0, 'my_layers.py')
    """
    cases = _cases()
    tasks = []
    for name, reference, _ in GATES:
        public, hidden = cases[name]
        tasks += gate_tasks(name, reference, public, hidden, ARGS.get(name, ()))
    assignment = Assignment(
        name="layers",
        title="Assignment layers: the gates of a convolutional network",
        filename="my_layers.py",
        tasks=tasks,
        blocked=("gates", "compgraph"),
        allowed=("gates.base",),
    )
    assignment.skeleton = gate_skeleton(assignment, GATES)
    return assignment
