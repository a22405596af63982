"""Formulas for ONNX ops that no PyTorch capture records (PyTorch decomposes them before dispatch).

``onnx.Einsum`` — args ``(equation, [operands])``. PyTorch runs ``torch.einsum`` as permutes,
views and ``bmm``/``mul`` ops, so its capture never sees an einsum; an ONNX graph keeps the node.
It is counted as the products PyTorch would run: operands are contracted left to right, pairwise;
each pair is one (batched) product over the union U of its indices, keeping the indices K still
needed by a later operand or the output and summing the rest S:

* S not empty: MACs = prod(size of U), FLOPs by the dot-product rule with prod(size of K)
  outputs (2 x MACs, or 2 x MACs - outputs under ``exact``) — ``ij,jk->ik`` is a matmul's
  M x N x K, ``bij,bjk->bik`` a bmm's;
* S empty (``i,j->ij``, an outer or element-wise product): 0 MACs, 1 multiply per element of U;
* a single operand with summed indices (``ij->i``): one add per input element beyond the first
  of each output, prod(size of U) - prod(size of K); a pure permutation or diagonal costs nothing.

Ellipses broadcast like NumPy's; without ``->`` the output is the indices used once, in
alphabetical order, after the ellipsis dimensions. Write-up reads follow the matrix products: the
first operand is read once per MAC, the others once.
"""

from __future__ import annotations

from howfast.capture.records import OpRecord, TensorMeta
from howfast.conventions import Conventions
from howfast.costs.formulas._util import arg, dot_flops, prod
from howfast.costs.registry import Cost, cost


def parse_einsum(equation: str, shapes: list[tuple[int, ...]]) -> tuple[list[list[str]], list[str], dict[str, int]]:
    """(per-operand index labels, output labels, size of every label) for ``equation``."""
    equation = equation.replace(" ", "")
    inputs_text, arrow, output_text = equation.partition("->")
    terms_text = inputs_text.split(",")
    if len(terms_text) != len(shapes):
        raise ValueError(f"einsum {equation!r} names {len(terms_text)} operands, {len(shapes)} given")
    ellipsis_rank = 0
    for text, shape in zip(terms_text, shapes):
        if "..." in text:
            ellipsis_rank = max(ellipsis_rank, len(shape) - len(text.replace("...", "")))
    ellipsis_labels = [chr(0x100 + i) for i in range(ellipsis_rank)]  # never letters of the equation
    terms: list[list[str]] = []
    sizes: dict[str, int] = {}
    for text, shape in zip(terms_text, shapes):
        labels = _expand(text, len(shape), ellipsis_labels)
        if len(labels) != len(shape):
            raise ValueError(f"einsum term {text!r} does not match an operand of rank {len(shape)}")
        for label, size in zip(labels, shape):
            sizes[label] = max(sizes.get(label, 1), int(size))
        terms.append(labels)
    if arrow:
        output = _expand(output_text, None, ellipsis_labels)
    else:
        counts: dict[str, int] = {}
        for labels in terms:
            for label in labels:
                counts[label] = counts.get(label, 0) + 1
        output = [label for label in ellipsis_labels if label in counts]
        output += sorted(label for label, n in counts.items() if n == 1 and label not in ellipsis_labels)
    for label in output:
        sizes.setdefault(label, 1)
    return terms, output, sizes


def _expand(text: str, rank: int | None, ellipsis_labels: list[str]) -> list[str]:
    if "..." not in text:
        return list(text)
    before, _, after = text.partition("...")
    count = len(ellipsis_labels) if rank is None else rank - len(before) - len(after)
    count = max(count, 0)
    return list(before) + ellipsis_labels[len(ellipsis_labels) - count:] + list(after)


def einsum_counts(equation: str, shapes: list[tuple[int, ...]], conv: Conventions) -> tuple[int, int]:
    """(MACs, FLOPs) of an einsum contracted left to right, pairwise (see the module docstring)."""
    terms, output, sizes = parse_einsum(equation, shapes)

    def size(labels: list[str]) -> int:
        return prod(sizes[label] for label in labels)

    if len(terms) == 1:
        union = list(dict.fromkeys(terms[0]))
        summed = [label for label in union if label not in output]
        return 0, (size(union) - size(output)) if summed else 0
    macs = flops = 0
    current = list(dict.fromkeys(terms[0]))
    for k in range(1, len(terms)):
        later = set(output) | {label for t in terms[k + 1:] for label in t}
        union = list(dict.fromkeys(current + terms[k]))
        keep = [label for label in union if label in later]
        total = size(union)
        if len(keep) < len(union):
            macs += total
            flops += dot_flops(total, size(keep), conv)
        else:
            flops += total
        current = keep
    return macs, flops


@cost("onnx.Einsum")
def einsum(op: OpRecord, conv: Conventions) -> Cost:
    equation = str(arg(op, 0, "equation"))
    operands: list[TensorMeta] = list(arg(op, 1, "operands"))
    macs, flops = einsum_counts(equation, [t.shape for t in operands], conv)
    reads = None
    if macs:
        activations = [t for t in operands if not t.is_weight]
        reads = macs + sum(t.numel for t in activations[1:]) if activations else 0
    return Cost(macs=macs, flops=flops, input_reads=reads)
