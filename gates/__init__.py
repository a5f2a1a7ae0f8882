"""The operator library: one Gate subclass per operator, no graph code."""

from gates.activations import (
    AbsGate,
    ClampGate,
    ELUGate,
    ExpGate,
    HardTanhGate,
    LeakyReLUGate,
    LogGate,
    ReLUGate,
    SigmoidGate,
    SoftplusGate,
    SqrtGate,
    SquareGate,
    TanhGate,
)
from gates.arithmetic import (
    AddConstantGate,
    AddGate,
    DivideGate,
    MaxGate,
    MinGate,
    MultiplyGate,
    NegateGate,
    PowerGate,
    ReciprocalGate,
    ScaleGate,
    SubtractGate,
)
from gates.base import Gate, gate_arity, unbroadcast
from gates.conv import Conv2dGate
from gates.elementwise_losses import (
    BCELossGate,
    BCEWithLogitsLossGate,
    L1LossGate,
    L2PenaltyGate,
    MSELossGate,
    SmoothL1LossGate,
)
from gates.losses import (
    HingeLossGate,
    LogSoftmaxGate,
    NLLLossGate,
    SoftmaxCrossEntropyGate,
    SoftmaxGate,
)
from gates.normalization import BatchNormGate, DropoutGate
from gates.pooling import AvgPool2dGate, MaxPool2dGate
from gates.shape import (
    BroadcastGate,
    ConcatGate,
    FlattenGate,
    IndexGate,
    NarrowGate,
    ReshapeGate,
    TransposeGate,
)
from gates.tensor import AffineGate, EmbeddingGate, MatMulGate, MeanGate, SumGate

__all__ = [
    # the contract
    "Gate",
    "gate_arity",
    "unbroadcast",
    # arithmetic
    "AddGate",
    "SubtractGate",
    "MultiplyGate",
    "DivideGate",
    "NegateGate",
    "ScaleGate",
    "AddConstantGate",
    "ReciprocalGate",
    "PowerGate",
    "MaxGate",
    "MinGate",
    # elementwise
    "ExpGate",
    "LogGate",
    "SigmoidGate",
    "TanhGate",
    "ReLUGate",
    "AbsGate",
    "SquareGate",
    "SqrtGate",
    "LeakyReLUGate",
    "ELUGate",
    "SoftplusGate",
    "ClampGate",
    "HardTanhGate",
    # tensors
    "SumGate",
    "MeanGate",
    "MatMulGate",
    "AffineGate",
    "ReshapeGate",
    "FlattenGate",
    "TransposeGate",
    "ConcatGate",
    "NarrowGate",
    "IndexGate",
    "BroadcastGate",
    "EmbeddingGate",
    # losses
    "SoftmaxGate",
    "LogSoftmaxGate",
    "SoftmaxCrossEntropyGate",
    "NLLLossGate",
    "HingeLossGate",
    "MSELossGate",
    "L1LossGate",
    "SmoothL1LossGate",
    "BCELossGate",
    "BCEWithLogitsLossGate",
    "L2PenaltyGate",
    # convolution and normalization
    "Conv2dGate",
    "MaxPool2dGate",
    "AvgPool2dGate",
    "BatchNormGate",
    "DropoutGate",
]
