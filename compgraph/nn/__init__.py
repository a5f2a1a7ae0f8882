"""Layers that add named parameters and gates to a graph, in the style of Torch nn.

>>> from compgraph import ComputationalGraph, nn
>>> g = ComputationalGraph()
>>> x, labels = g.input("x"), g.input("labels")
>>> model = nn.Sequential(nn.Linear(4, 16, rng=0), nn.ReLU(), nn.Linear(16, 3, rng=1))
>>> loss = nn.CrossEntropyLoss()(model(x), labels)
>>> sorted(g.parameters())
['fc1.W', 'fc1.b', 'fc2.W', 'fc2.b']
"""

from compgraph.nn.activations import (
    ELU,
    AvgPool2d,
    Flatten,
    LeakyReLU,
    LogSoftmax,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from compgraph.nn.base import Layer
from compgraph.nn.containers import Sequential, Split, split
from compgraph.nn.init import as_generator, he_normal, initialize, xavier_normal
from compgraph.nn.layers import BatchNorm, Conv2d, Dropout, Embedding, Linear
from compgraph.nn.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    L1Loss,
    MSELoss,
    MultiClassHingeLoss,
    NLLLoss,
    SmoothL1Loss,
    l2_penalty,
)

__all__ = [
    "Layer",
    "Linear",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "BatchNorm",
    "Dropout",
    "Embedding",
    "Flatten",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "LeakyReLU",
    "ELU",
    "Softplus",
    "Softmax",
    "LogSoftmax",
    "CrossEntropyLoss",
    "NLLLoss",
    "MultiClassHingeLoss",
    "MSELoss",
    "L1Loss",
    "SmoothL1Loss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "l2_penalty",
    "Sequential",
    "Split",
    "split",
    "as_generator",
    "he_normal",
    "xavier_normal",
    "initialize",
]
