"""Matrix products: mm, addmm, bmm, baddbmm, matmul, mv, dot (linear and einsum decompose to these),
and the grouped product of mixture-of-experts layers (``_grouped_mm``).

MACs = (batch) x M x N x K. Write-up reads: the activation operand is read once per MAC (as a conv
input is read once per MAC window: every output's dot product re-reads its row); a weight operand
is read once; a second activation operand (attention's K or V) is read once, like a weight.
"""

from __future__ import annotations

from howfast.conventions import Conventions
from howfast.costs.formulas._util import arg, bias_flops, dot_flops, need, out_numel, prod, tensor
from howfast.costs.registry import Access, Cost, Fusion, OpClass, access, cost
from howfast.graph.records import OpRecord, TensorMeta, tensor_metas


def matmul_macs(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """MACs of ``torch.matmul(a, b)`` for shapes ``a`` and ``b`` (with 1-D and batch broadcasting)."""
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    m, k = a2[-2], a2[-1]
    n = b2[-1]
    batch = _broadcast(a2[:-2], b2[:-2])
    return prod(batch) * m * n * k


def _broadcast(x: tuple[int, ...], y: tuple[int, ...]) -> tuple[int, ...]:
    width = max(len(x), len(y))
    x = (1,) * (width - len(x)) + tuple(x)
    y = (1,) * (width - len(y)) + tuple(y)
    return tuple(max(p, q) for p, q in zip(x, y))


def product_cost(op: OpRecord, operands: list[TensorMeta], macs: int, conv: Conventions, bias: TensorMeta | None = None) -> Cost:
    """Cost of a matrix product of ``operands`` (in order) with an optional added ``bias``."""
    outputs = out_numel(op)
    flops = dot_flops(macs, outputs, conv) + bias_flops(outputs, bias is not None, conv)
    activations = [t for t in operands if not t.is_weight]
    reads: int = 0
    if activations:
        reads = macs + sum(t.numel for t in activations[1:])
    if bias is not None and not bias.is_weight:
        reads += bias.numel
    result = Cost(macs=macs, flops=flops, input_reads=reads)
    destination = op.kwargs.get("out")
    if isinstance(destination, TensorMeta):  # an out= call writes its destination and never reads it
        result.compulsory_input = [access(t.numel, t) for t in op.inputs if not t.is_weight and t.tid != destination.tid]
    return result


@cost("aten.mm", op_class=OpClass.GEMM, fusion=Fusion.ANCHOR)
@cost("aten.bmm", "aten.matmul", "aten.mv", "aten.dot", "aten.vdot", "aten.inner", op_class=OpClass.GEMM)
def plain_product(op: OpRecord, conv: Conventions) -> Cost:
    a, b = need(op, 0, "self"), need(op, 1, "mat2", "other", "vec")
    return product_cost(op, [a, b], matmul_macs(a.shape, b.shape), conv)


@cost("aten.addmm", op_class=OpClass.GEMM, fusion=Fusion.ANCHOR)
@cost("aten.baddbmm", "aten.addmv", "aten._addmm_activation", op_class=OpClass.GEMM)
def product_plus_bias(op: OpRecord, conv: Conventions) -> Cost:
    # baddbmm/addmv name their operands batch1/batch2, mat/vec
    bias, a, b = tensor(op, 0, "self"), need(op, 1, "mat1", "batch1", "mat"), need(op, 2, "mat2", "batch2", "vec")
    result = product_cost(op, [a, b], matmul_macs(a.shape, b.shape), conv, bias=bias)
    if op.op.startswith("aten._addmm_activation"):
        result.flops += out_numel(op) * (13 if arg(op, 5, "use_gelu", False) else 1)
    return result


@cost("aten.addbmm", op_class=OpClass.GEMM)
def batched_sum_plus_bias(op: OpRecord, conv: Conventions) -> Cost:
    bias, a, b = tensor(op, 0, "self"), need(op, 1, "batch1"), need(op, 2, "batch2")
    # The batch of products is summed into one matrix: each output is one dot product of length
    # batch x K, so the sum over the batch is already in the dot-product rule.
    return product_cost(op, [a, b], matmul_macs(a.shape, b.shape), conv, bias=bias)


@cost("aten.linear", op_class=OpClass.GEMM, fusion=Fusion.ANCHOR)
def linear(op: OpRecord, conv: Conventions) -> Cost:
    x, w, bias = need(op, 0, "input"), need(op, 1, "weight"), tensor(op, 2, "bias")
    macs = prod(x.shape[:-1]) * w.shape[0] * w.shape[-1] if len(w.shape) == 2 else prod(x.shape)
    return product_cost(op, [x, w], macs, conv, bias=bias)


def grouped_mm_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, int, int]:
    """(MACs, elements of ``a`` read, elements of ``b`` read) of ``torch._grouped_mm(a, b, offs=...)``.

    * 2-D (M, K) x 3-D (G, K, N), offs slicing the M rows into groups: each row meets its group's
      (K, N) matrix, so MACs = M x K x N. Which groups the rows go to is data (unknown on meta): the
      rows are taken to reach min(G, M) distinct groups (balanced routing), so min(G, M) x K x N
      elements of the 3-D operand are read.
    * 3-D (G, M, K) x 2-D (K, N), offs slicing the N columns: M x K x N MACs; min(G, N) of the
      3-D operand's (M, K) matrices read.
    * 2-D (M, K) x 2-D (K, N), offs slicing the shared K into groups, output (G, M, N): each k
      belongs to one group, so M x K x N MACs; each operand read once.
    * 3-D (G, M, K) x 3-D (G, K, N), no offs: a batched product, G x M x K x N; all read.
    """
    numel_a, numel_b = prod(a), prod(b)
    if len(a) == 2 and len(b) == 3:
        (m, k), (g, n) = a, (b[0], b[2])
        return m * k * n, numel_a, min(g, m) * k * n
    if len(a) == 3 and len(b) == 2:
        (g, m, k), n = a, b[1]
        return m * k * n, min(g, n) * m * k, numel_b
    if len(a) == 2 and len(b) == 2:
        return a[0] * a[1] * b[1], numel_a, numel_b
    return a[0] * a[1] * a[2] * b[-1], numel_a, numel_b


@cost("aten._grouped_mm", op_class=OpClass.GEMM)
def grouped_mm(op: OpRecord, conv: Conventions) -> Cost:
    """``_grouped_mm(self, mat2, offs=None, bias=None, out_dtype=None)``: MACs and operand reads of
    ``grouped_mm_shape``; FLOPs ``dot(MACs, outputs) + bias(outputs)``.

    As for mm: the first activation operand is read once per MAC (write-up), the other operand once,
    at the share ``grouped_mm_shape`` gives; ``offs`` (int32) and an activation bias once, each at
    its own item size. Compulsory: every operand at its share, once.
    """
    a, b = need(op, 0, "self"), need(op, 1, "mat2")
    offs, bias = tensor(op, 2, "offs"), tensor(op, 3, "bias")
    macs, read_a, read_b = grouped_mm_shape(a.shape, b.shape)
    outputs = out_numel(op)
    shares = [(a, read_a), (b, read_b)]
    activations = [(t, n) for t, n in shares if not t.is_weight]
    once = [access(t.numel, t) for t in (offs, bias) if t is not None and not t.is_weight]
    weights = [access(n, t) for t, n in shares if t.is_weight] + ([access(bias.numel, bias)] if bias is not None and bias.is_weight else [])
    writeup: list[Access] = [access(macs, activations[0][0])] + [access(n, t) for t, n in activations[1:]] if activations else []
    return Cost(macs=macs, flops=dot_flops(macs, outputs, conv) + bias_flops(outputs, bias is not None, conv),
                input_reads=writeup + once, weight_reads=weights,
                compulsory_input=[access(n, t) for t, n in activations] + once, compulsory_weights=weights)


@cost("aten._trilinear", op_class=OpClass.GEMM)
def trilinear(op: OpRecord, conv: Conventions) -> Cost:
    """nn.Bilinear: sum over ``sumdim`` of i1 * i2 * i3, each input unsqueezed at ``expandN``.

    Each term of the sum is one MAC plus one extra multiply (three factors), so MACs = terms and
    FLOPs = the dot-product rule on the terms + 1 multiply per term.
    """
    tensors = [need(op, i) for i in range(3)]
    expands = [list(arg(op, 3 + i, f"expand{i + 1}", [])) for i in range(3)]
    rank = len(tensors[0].shape) + len(expands[0])
    full: tuple[int, ...] = (1,) * rank
    for t, dims in zip(tensors, expands):
        shape = list(t.shape)
        for d in sorted(dims):
            shape.insert(d, 1)
        full = _broadcast(full, tuple(shape))
    terms = prod(full)
    outputs = out_numel(op)
    return Cost(macs=terms, flops=dot_flops(terms, outputs, conv) + terms, input_reads=terms + sum(t.numel for t in tensors[1:] if not t.is_weight))


@cost("einsum", op_class=OpClass.GEMM)
def einsum(op: OpRecord, conv: Conventions) -> Cost:
    """einsum, contracted pairwise from left to right (as torch does without opt_einsum).

    Each pairwise contraction costs prod(sizes of every index either operand has) MACs; an index
    is summed away once no later operand and not the output needs it. A step that sums nothing
    away (an element-wise or outer product) is 1 multiply per term and no MAC. A single-operand
    einsum (trace, sum over an index) costs additions only: terms - outputs.

    Write-up reads, per step, as for a matrix product: of the step's two sides (the left one is
    the first operand, then the previous step's result) the first activation is read once per MAC
    and the other once; a step without MACs reads each side once. A weight (parameter or buffer)
    operand is read once, as a weight, never as activation input.
    """
    equation = op.args[0]
    operands = tensor_metas(op.args[1:])
    inputs, output = _parse_einsum(equation, operands)
    sizes: dict[str, int] = {}
    for letters, t in zip(inputs, operands):
        for letter, size in zip(letters, t.shape):
            sizes[letter] = max(sizes.get(letter, 1), size)
    outputs = out_numel(op)
    if len(inputs) == 1:
        terms = prod(sizes[c] for c in set(inputs[0]))
        return Cost(flops=max(terms - outputs, 0))
    macs = flops = reads = 0
    current = inputs[0]
    left = None if operands[0].is_weight else operands[0].numel  # None: a weight, read as such
    for i, nxt in enumerate(inputs[1:], start=1):
        union = "".join(dict.fromkeys(current + nxt))
        needed = set(output).union(*inputs[i + 1:])
        kept = "".join(c for c in union if c in needed)
        terms = prod(sizes[c] for c in union)
        sides = [n for n in (left, None if operands[i].is_weight else operands[i].numel) if n is not None]
        if len(kept) == len(union):  # nothing contracted: a broadcast multiply, each side read once
            flops += terms
            reads += sum(sides)
        else:
            macs += terms
            flops += dot_flops(terms, prod(sizes[c] for c in kept), conv)
            reads += (terms + sum(sides[1:])) if sides else 0
        current = kept
        left = prod(sizes[c] for c in kept)  # the step's result, an activation
    return Cost(macs=macs, flops=flops, input_reads=reads)


def _parse_einsum(equation: str, operands: list[TensorMeta]) -> tuple[list[str], str]:
    """Index letters of each operand and of the output, with '...' expanded to spare letters."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in equation]
    ellipsis_rank = max((len(t.shape) - len(term.replace("...", "")) for term, t in zip(terms, operands) if "..." in term), default=0)
    broadcast = "".join(spare[:ellipsis_rank])
    expanded = []
    for term, t in zip(terms, operands):
        if "..." in term:
            rank = len(t.shape) - len(term.replace("...", ""))
            term = term.replace("...", broadcast[ellipsis_rank - rank:])
        expanded.append(term)
    if arrow:
        output = rhs.replace("...", broadcast)
    else:  # implicit output: indices seen once, alphabetically, after the broadcast ones
        counts: dict[str, int] = {}
        for term in expanded:
            for c in term:
                counts[c] = counts.get(c, 0) + 1
        output = broadcast + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in broadcast))
    return expanded, output
