"""The operator library: one Gate subclass per operator, no graph code."""

from gates.activations import (
    AbsGate,
    ExpGate,
    LogGate,
    ReLUGate,
    SigmoidGate,
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
from gates.tensor import SumGate

__all__ = [
    "Gate",
    "gate_arity",
    "unbroadcast",
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
    "ExpGate",
    "LogGate",
    "SigmoidGate",
    "TanhGate",
    "ReLUGate",
    "AbsGate",
    "SquareGate",
    "SqrtGate",
    "SumGate",
]
