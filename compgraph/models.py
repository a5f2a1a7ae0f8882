"""Ready-made graphs for image classification, built from layers and gates.

Each builder takes the image size and the number of classes and returns a
:class:`Model`: the graph, with the names of its input, label, scores and
loss nodes. Four models span the lecture, from a linear classifier to a
small convolutional network:

========== ==========================================================
linear-svm scores ``x W + b``; multiclass hinge loss + L2 penalty on ``W``
softmax    the same scores; softmax cross-entropy + L2 penalty on ``W``
mlp        two hidden ReLU layers (128 and 64 units), cross-entropy
convnet    two conv-ReLU-maxpool stages, a hidden layer with dropout, a
           classifier: a small AlexNet
========== ==========================================================

The linear classifiers are the lecture's loss graphs: their L2 penalty
``weight_decay * sum(W ** 2)`` on the weights (not the biases) is a node of
the graph, so its gradient flows through gates like the rest. The deep
networks leave regularization to the optimizer, as frameworks do: it adds
``weight_decay * p`` to every gradient (:attr:`Model.optimizer_weight_decay`),
the gradient of a penalty ``weight_decay / 2 * sum(p ** 2)``, without the
five extra gates per step (a sixth of an MLP epoch on the digits).
:data:`DEFAULTS` holds training settings that reach the targets on the
digits.

Built with ``with_loss=False``, a model is its scores alone: a graph with
no label input, which is how prediction runs on images nobody labelled.
The parameters keep the same names, so a checkpoint loads into either.
"""

from dataclasses import dataclass, replace

import numpy as np

from compgraph import nn
from compgraph.graph import ComputationalGraph

__all__ = ["Model", "MODELS", "DEFAULTS", "build_model"]


@dataclass(frozen=True, repr=False)
class Model:
    """A classifier's graph and the names of the nodes a trainer uses.

    Attributes
    ----------
    name : str
        One of :data:`MODELS`.
    graph : ComputationalGraph
        Its output is the loss (or the scores, without a loss).
    inputs, labels : str
        The input nodes for images and integer labels (``labels`` is
        ``None`` without a loss).
    scores, loss : str
        The class-scores node, shape (N, n_classes), and the scalar loss
        node (``None`` without a loss).
    input_shape : tuple
        The shape of one example as the graph reads it: ``(H, W)``, or
        ``(1, H, W)`` for the convnet's single channel.
    optimizer_weight_decay : float
        The weight decay the optimizer must apply (0 when the penalty is a
        node of the graph).
    """

    name: str
    graph: ComputationalGraph
    inputs: str
    labels: str | None
    scores: str
    loss: str | None
    input_shape: tuple
    optimizer_weight_decay: float = 0.0

    def feed(self, images: np.ndarray, labels: np.ndarray | None = None) -> dict:
        """The keyword arguments for ``graph.forward`` on a batch of images."""
        fed = {self.inputs: images.reshape(len(images), *self.input_shape)}
        if self.labels is not None:
            fed[self.labels] = labels
        return fed

    def __repr__(self):
        size = sum(v.size for v in self.graph.parameters().values())
        return f"<Model {self.name!r}: {size} parameters, scores {self.scores!r}>"


def linear_svm(image_shape, n_classes, *, weight_decay=1e-3, seed=0, with_loss=True):
    """A linear classifier with the multiclass hinge (SVM) loss.

    Examples
    --------
    >>> model = linear_svm((8, 8), 10, weight_decay=0.0)
    >>> model
    <Model 'linear-svm': 650 parameters, scores 'scores'>
    >>> loss = model.graph.forward(**model.feed(np.zeros((2, 8, 8)), [3, 4]))
    >>> round(float(loss), 6)  # every score is 0: each wrong class costs 1
    9.0
    """
    loss = nn.MultiClassHingeLoss()
    return _linear(
        "linear-svm", loss, image_shape, n_classes, weight_decay, seed, with_loss
    )


def softmax(image_shape, n_classes, *, weight_decay=1e-3, seed=0, with_loss=True):
    """A linear classifier with the softmax cross-entropy loss.

    Examples
    --------
    >>> model = softmax((8, 8), 10, weight_decay=0.0)
    >>> loss = model.graph.forward(**model.feed(np.zeros((2, 8, 8)), [3, 4]))
    >>> round(float(loss), 6) == round(float(np.log(10)), 6)
    True
    """
    loss = nn.CrossEntropyLoss()
    return _linear(
        "softmax", loss, image_shape, n_classes, weight_decay, seed, with_loss
    )


def mlp(
    image_shape,
    n_classes,
    *,
    hidden=(128, 64),
    weight_decay=2e-3,
    seed=0,
    with_loss=True,
):
    """Two hidden layers of ReLU units, then a linear classifier.

    ``weight_decay`` is applied by the optimizer (see the module notes).

    Examples
    --------
    >>> model = mlp((8, 8), 10)
    >>> model.graph.forward(**model.feed(np.zeros((5, 8, 8)), np.arange(5))) > 0
    True
    """
    rng = np.random.default_rng(seed)
    g = ComputationalGraph()
    x = g.input("images")
    sizes = (int(np.prod(image_shape)), *hidden)
    h = x
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        h = nn.ReLU(name=f"relu{i}")(nn.Linear(n_in, n_out, name=f"fc{i}", rng=rng)(h))
    scores = nn.Linear(sizes[-1], n_classes, name="classifier", rng=rng)(h)
    model = _finish(
        "mlp", g, scores, nn.CrossEntropyLoss(), 0.0, with_loss, image_shape
    )
    return replace(model, optimizer_weight_decay=weight_decay)


def convnet(
    image_shape,
    n_classes,
    *,
    channels=(16, 32),
    hidden=128,
    dropout=0.5,
    weight_decay=2e-4,
    seed=0,
    with_loss=True,
):
    """A small AlexNet: [conv 3x3 - ReLU - maxpool 2] x 2, FC - ReLU - dropout, FC.

    ``weight_decay`` is applied by the optimizer (see the module notes).
    The 3x3 convolutions pad by one, so each stage halves the image only
    through its pooling (8x8 -> 4x4 -> 2x2 for the digits).

    Examples
    --------
    >>> model = convnet((8, 8), 10)
    >>> model.input_shape
    (1, 8, 8)
    >>> model.graph.eval().forward(**model.feed(np.zeros((3, 8, 8)), [0, 1, 2])) > 0
    True
    """
    rng = np.random.default_rng(seed)
    g = ComputationalGraph()
    h = g.input("images")
    (height, width), c_in = image_shape, 1
    for i, c_out in enumerate(channels, start=1):
        h = nn.Conv2d(c_in, c_out, 3, padding=1, name=f"conv{i}", rng=rng)(h)
        h = nn.MaxPool2d(2, name=f"pool{i}")(nn.ReLU(name=f"relu{i}")(h))
        c_in, height, width = c_out, height // 2, width // 2
    h = nn.Linear(c_in * height * width, hidden, name="fc1", rng=rng)(h)
    h = nn.ReLU(name="relu_fc1")(h)
    # The dropout mask stream is seeded too, so a run repeats exactly.
    h = nn.Dropout(dropout, seed=seed + 1, name="dropout1")(h)
    scores = nn.Linear(hidden, n_classes, name="classifier", rng=rng)(h)
    loss = nn.CrossEntropyLoss()
    model = _finish("convnet", g, scores, loss, 0.0, with_loss, (1, *image_shape))
    return replace(model, optimizer_weight_decay=weight_decay)


#: Model name -> builder.
MODELS = {
    "linear-svm": linear_svm,
    "softmax": softmax,
    "mlp": mlp,
    "convnet": convnet,
}

#: Training settings per model that reach the targets on the bundled digits.
DEFAULTS = {
    "linear-svm": dict(
        epochs=40,
        batch_size=32,
        lr=0.03,
        optimizer="momentum",
        weight_decay=1e-3,
        schedule="cosine",
    ),
    "softmax": dict(
        epochs=40,
        batch_size=32,
        lr=0.03,
        optimizer="momentum",
        weight_decay=1e-3,
        schedule="cosine",
    ),
    "mlp": dict(
        epochs=40,
        batch_size=32,
        lr=3e-3,
        optimizer="adam",
        weight_decay=2e-3,
        schedule="cosine",
    ),
    "convnet": dict(
        epochs=30,
        batch_size=32,
        lr=3e-3,
        optimizer="adam",
        weight_decay=2e-4,
        schedule="cosine",
    ),
}


def build_model(
    name: str,
    image_shape,
    n_classes: int,
    *,
    weight_decay: float | None = None,
    seed: int = 0,
    with_loss: bool = True,
) -> Model:
    """Build model ``name`` for images of ``image_shape`` and ``n_classes`` classes.

    Examples
    --------
    >>> build_model("softmax", (8, 8), 10, with_loss=False)
    <Model 'softmax': 650 parameters, scores 'scores'>
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    if weight_decay is None:
        weight_decay = DEFAULTS[name]["weight_decay"]
    return MODELS[name](
        tuple(image_shape),
        n_classes,
        weight_decay=weight_decay,
        seed=seed,
        with_loss=with_loss,
    )


def _linear(name, loss, image_shape, n_classes, weight_decay, seed, with_loss):
    g = ComputationalGraph()
    x = g.input("images")
    layer = nn.Linear(int(np.prod(image_shape)), n_classes, name="linear", rng=seed)
    return _finish(name, g, layer(x), loss, weight_decay, with_loss, image_shape)


def _finish(name, g, scores, loss_layer, weight_decay, with_loss, input_shape):
    """Name the scores, add the loss and the penalty, set the output."""
    scores = g.rename(scores, "scores")
    if not with_loss:
        g.output(scores)
        return Model(name, g, "images", None, "scores", None, tuple(input_shape))
    data_loss = loss_layer(scores, g.input("labels"))
    if weight_decay:
        data_loss = g.rename(data_loss, "data_loss")
        penalty = g.rename(nn.l2_penalty(g, weight_decay), "penalty")
        loss = g.rename(data_loss + penalty, "loss")
    else:
        loss = g.rename(data_loss, "loss")  # no penalty: the data loss is the loss
    g.output(loss)
    return Model(name, g, "images", "labels", "scores", "loss", tuple(input_shape))
