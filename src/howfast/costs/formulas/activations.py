"""Activation functions and softmax. Per-element FLOPs are in ``conventions.ELEMENTWISE_FLOPS``.

ReLU 1, sigmoid 4, tanh 5 follow the English write-up; the others count their defining formula
with special functions (exp, erf) as 1 FLOP, the way the write-up counts exp in the sigmoid.
Softmax over rows of n elements costs 3n-1 per row (n exp, n-1 adds, n divides), as in the
write-up; the max subtracted for numerical stability is not counted. Log-softmax costs 3n per
row (n exp, n-1 adds, 1 log, n subtractions).
"""

from __future__ import annotations

from howfast.conventions import ELEMENTWISE_FLOPS, Conventions
from howfast.costs.formulas._util import arg, need
from howfast.costs.formulas.elementwise import elementwise_cost
from howfast.costs.registry import Cost, Formula, Fusion, OpClass, cost
from howfast.graph.records import OpRecord


def _per_element(key: str) -> Formula:
    def formula(op: OpRecord, conv: Conventions) -> Cost:
        return elementwise_cost(op, ELEMENTWISE_FLOPS[key])

    formula.__name__ = key
    formula.__doc__ = f"{ELEMENTWISE_FLOPS[key]} FLOPs per element ({key})."
    return formula


cost("aten.relu", "aten.threshold", op_class=OpClass.ELEMENTWISE, fusion=Fusion.EPILOGUE)(_per_element("relu"))
cost("aten.sigmoid", op_class=OpClass.ACTIVATION, fusion=Fusion.EPILOGUE)(_per_element("sigmoid"))
cost("aten.tanh", op_class=OpClass.ACTIVATION, fusion=Fusion.EPILOGUE)(_per_element("tanh"))
cost("aten.hardtanh", op_class=OpClass.ELEMENTWISE, fusion=Fusion.EPILOGUE)(_per_element("hardtanh"))
leaky_relu = _per_element("leaky_relu")
cost("aten.leaky_relu", "aten._prelu_kernel", op_class=OpClass.ELEMENTWISE, fusion=Fusion.EPILOGUE)(leaky_relu)
cost("aten.prelu", "aten.rrelu_with_noise", op_class=OpClass.ELEMENTWISE)(leaky_relu)
cost("aten.elu", "aten.celu", "aten.selu", op_class=OpClass.ACTIVATION, fusion=Fusion.EPILOGUE)(_per_element("elu"))
cost("aten.silu", op_class=OpClass.ACTIVATION, fusion=Fusion.EPILOGUE)(_per_element("silu"))
cost("aten.hardswish", op_class=OpClass.ELEMENTWISE, fusion=Fusion.EPILOGUE)(_per_element("hardswish"))
cost("aten.hardsigmoid", op_class=OpClass.ELEMENTWISE, fusion=Fusion.EPILOGUE)(_per_element("hardsigmoid"))
cost("aten.mish", op_class=OpClass.ACTIVATION, fusion=Fusion.EPILOGUE)(_per_element("mish"))
cost("aten.softplus", op_class=OpClass.ACTIVATION, fusion=Fusion.EPILOGUE)(_per_element("softplus"))


@cost("aten.log_sigmoid_forward", op_class=OpClass.ACTIVATION)
def log_sigmoid(op: OpRecord, conv: Conventions) -> Cost:
    # -softplus(-x); the CPU kernel's second output is a scratch buffer, not part of the result.
    result = elementwise_cost(op, ELEMENTWISE_FLOPS["softplus"])
    result.outputs_used = 1
    return result


@cost("aten.gelu", op_class=OpClass.ACTIVATION, fusion=Fusion.EPILOGUE)
def gelu(op: OpRecord, conv: Conventions) -> Cost:
    approximate = arg(op, 1, "approximate", "none")
    return elementwise_cost(op, ELEMENTWISE_FLOPS["gelu_tanh" if approximate == "tanh" else "gelu"])


@cost("aten.glu", op_class=OpClass.ACTIVATION)
def glu(op: OpRecord, conv: Conventions) -> Cost:
    # a * sigmoid(b) per output element: sigmoid (4) + multiply (1); both halves of the input are read.
    result = elementwise_cost(op, ELEMENTWISE_FLOPS["sigmoid"] + 1)
    result.input_reads = need(op, 0, "self").numel
    return result


def _rows(op: OpRecord) -> tuple[int, int]:
    x = need(op, 0, "self")
    dim = int(arg(op, 1, "dim", -1))
    n = x.shape[dim] if x.shape else 1
    return (x.numel // n if n else 0), n


@cost("aten._softmax", "aten.softmax", "aten._safe_softmax", op_class=OpClass.ACTIVATION)
def softmax(op: OpRecord, conv: Conventions) -> Cost:
    rows, n = _rows(op)
    return Cost(flops=rows * (3 * n - 1), input_reads=need(op, 0, "self").numel)


@cost("aten._log_softmax", "aten.log_softmax", op_class=OpClass.ACTIVATION)
def log_softmax(op: OpRecord, conv: Conventions) -> Cost:
    rows, n = _rows(op)
    return Cost(flops=rows * 3 * n, input_reads=need(op, 0, "self").numel)


def softmax_flops(rows: int, n: int) -> int:
    """Softmax FLOPs over ``rows`` rows of ``n`` elements (for composite formulas)."""
    return rows * (3 * n - 1)

