"""Data movement: views (free), copies, concatenation, creation, indexing, embedding, resizing, dropout.

Shape-only ops (view, reshape, transpose, permute, expand, slice, select, squeeze...) change
metadata only: no FLOPs and no memory traffic. Copies (clone, contiguous, cat, stack, pad, dtype
casts) read their input and write their output: memory, no FLOPs. Creation ops (zeros, arange...)
only write. An embedding lookup reads its indices and the rows it gathers, not the whole table.
An in-place scatter (scatter_, index_put_, index_add_, scatter_reduce_...) reads its indices and
the source elements it scatters and writes only the elements it sets, not the whole target; its
out-of-place form copies the whole target into a new tensor and scatters into the copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from howfast.conventions import Conventions
from howfast.costs.formulas._util import arg, need, out_numel, prod, tensor
from howfast.costs.registry import Access, Cost, OpClass, access, cost, free
from howfast.graph import opnames
from howfast.graph.records import OpRecord, TensorMeta

free(
    "aten.view", "aten._unsafe_view", "aten.reshape", "aten._reshape_alias", "aten.view_as",
    "aten.transpose", "aten.t", "aten.permute", "aten.expand", "aten.expand_as", "aten.slice",
    "aten.select", "aten.squeeze", "aten.unsqueeze", "aten.flatten", "aten.unflatten", "aten.split",
    "aten.split_with_sizes", "aten.unsafe_split", "aten.unsafe_split_with_sizes", "aten.chunk",
    "aten.unbind", "aten.as_strided", "aten.alias", "aten.detach", "aten.lift_fresh",
    "aten.narrow", "aten.movedim", "aten.diagonal", "aten.unfold", "aten.view_as_real",
    "aten.view_as_complex", "aten.real", "aten.imag", "aten._conj", "aten.resolve_conj",
    "aten.resolve_neg", "aten.sym_size", "aten.sym_stride", "aten.sym_numel", "aten.sym_storage_offset",
    "aten.is_same_size", "aten._local_scalar_dense", "aten.is_nonzero", "aten.equal",
    "aten._assert_async", "aten._assert_tensor_metadata", "aten.dim", "aten.size", "aten.stride",
    "aten._has_compatible_shallow_copy_type", "aten.set_", "aten.result_type", "aten.item",
    "aten.mT", "aten.mH", "aten.adjoint", "aten.swapaxes", "aten.swapdims",
)


@cost("aten.split_copy", "aten.split_with_sizes_copy", "aten.unbind_copy", "aten.view_copy", "aten.permute_copy",
      "aten.transpose_copy", "aten.expand_copy", "aten.slice_copy", "aten.select_copy", "aten.squeeze_copy",
      "aten.unsqueeze_copy", "aten.t_copy", "aten.alias_copy", "aten.diagonal_copy", "aten.detach_copy",
      "aten.as_strided_copy", "aten.narrow_copy", "aten.unfold_copy", "aten.values_copy", "aten.indices_copy",
      "aten.view_as_real_copy", "aten.view_as_complex_copy", "aten._reshape_copy", op_class=OpClass.DATA)
def view_copy(op: OpRecord, conv: Conventions) -> Cost:
    """The ``*_copy`` form of a view (functionalised graphs, ``split_copy``): the view's elements
    copied into new storage. Reads min(input elements, output elements) -- a slice or select reads
    only what it keeps, an expand or overlapping unfold reads each input element once -- and
    writes every output."""
    source = tensor(op, 0, "self")
    if source is None:
        return Cost()
    written = sum(t.numel for t in op.outputs)
    reads = [access(min(source.numel, written), source)]
    if source.is_weight:
        return Cost(input_reads=[], weight_reads=reads, compulsory_input=[], compulsory_weights=reads)
    return Cost(input_reads=reads, compulsory_input=reads)


@cost("aten.clone", "aten.contiguous", "aten._to_copy", "aten.to", "aten.copy",
      "aten.cat", "aten.concat", "aten.concatenate", "aten.stack", "aten.hstack", "aten.vstack",
      "aten.constant_pad_nd", "aten.pad", "aten.reflection_pad1d", "aten.reflection_pad2d",
      "aten.reflection_pad3d", "aten.replication_pad1d", "aten.replication_pad2d",
      "aten.replication_pad3d", "aten.repeat", "aten.tile", "aten.roll", "aten.flip",
      "aten.pixel_shuffle", "aten.pixel_unshuffle", "aten.channel_shuffle", "aten.native_channel_shuffle",
      "aten.im2col", "aten.col2im", "aten.repeat_interleave", "aten.tril", "aten.triu",
      "aten.masked_select", "aten.nonzero", "aten.slice_scatter", "aten.select_scatter", op_class=OpClass.DATA)
def copy(op: OpRecord, conv: Conventions) -> Cost:
    return Cost()


@cost("aten.copy_", op_class=OpClass.DATA)
def copy_into(op: OpRecord, conv: Conventions) -> Cost:
    # dst.copy_(src) overwrites dst without reading it; src is read at its own item size (a
    # float64 source copied into a float32 destination: 8 bytes read and 4 written per element).
    source = tensor(op, 1, "src")
    reads = [access(source.numel, source)] if source is not None and not source.is_weight else []
    return Cost(input_reads=reads, compulsory_input=reads)


@cost("aten.index", "aten._unsafe_index", "aten.index_select", "aten.gather", "aten.take", op_class=OpClass.DATA)
def gather(op: OpRecord, conv: Conventions) -> Cost:
    """Reads the elements it gathers (one per output) and its indices, not the whole source.

    Each at its own item size: int64 indices 8 bytes, a bool mask 1, float32 rows 4.
    """
    source = need(op, 0, "self")
    indices = [access(t.numel, t) for t in op.inputs if t.tid != source.tid]
    rows = [access(out_numel(op), source)]
    if source.is_weight:
        return Cost(input_reads=indices, compulsory_input=indices, weight_reads=rows, compulsory_weights=rows)
    return Cost(input_reads=indices + rows, compulsory_input=indices + rows)


def _reads(pieces: list[tuple[TensorMeta, int]]) -> tuple[list[Access], list[Access]]:
    """Per-operand ``Access`` entries from ``(tensor, elements read)`` pieces, each at its tensor's
    item size: (activation reads, weight reads)."""
    return ([access(n, t) for t, n in pieces if not t.is_weight],
            [access(n, t) for t, n in pieces if t.is_weight])


def _read_cost(writeup: list[tuple[TensorMeta, int]], compulsory: list[tuple[TensorMeta, int]] | None = None) -> Cost:
    """Activation and weight reads of both models from ``(tensor, elements read)`` pieces (the
    compulsory pieces default to the write-up's), every piece priced at its own item size."""
    wu_acts, wu_weights = _reads(writeup)
    comp_acts, comp_weights = _reads(writeup if compulsory is None else compulsory)
    return Cost(input_reads=wu_acts, weight_reads=wu_weights, compulsory_input=comp_acts, compulsory_weights=comp_weights)


def _is_mask(t: TensorMeta) -> bool:
    return t.dtype in ("bool", "uint8")


def _indexed_elements(target: TensorMeta, indices: list) -> int:
    """Elements ``target[indices]`` selects: the broadcast index positions x the dims no index
    covers. A boolean mask counts every position it covers (its true count is data-dependent)."""
    positions: tuple[int, ...] = ()
    covered: set[int] = set()
    dim = 0
    for index in indices:
        if isinstance(index, TensorMeta):
            shape, width = ((index.numel,), len(index.shape)) if _is_mask(index) else (index.shape, 1)
            width = max(width, 1)
            covered.update(range(dim, dim + width))
            rank = max(len(positions), len(shape))
            a, b = (1,) * (rank - len(positions)) + positions, (1,) * (rank - len(shape)) + tuple(shape)
            positions = tuple(max(x, y) for x, y in zip(a, b))
            dim += width
        else:  # None: a full slice of this dimension
            dim += 1
    return prod(positions) * prod(size for d, size in enumerate(target.shape) if d not in covered)


@dataclass(slots=True)
class _Scatter:
    """What a scatter does to its target: n elements set from ``pieces`` (indices and the source
    elements scattered, each ``(tensor, elements read)``); ``combine`` when each element set is
    combined with a value (an add, multiply, compare: 1 FLOP), ``reads_target`` when that value is
    the target's own, ``mean`` when each position set is then divided by its count."""

    target: TensorMeta
    n: int
    pieces: list[tuple[TensorMeta, int]]
    combine: bool = False
    reads_target: bool = False
    mean: bool = False

    @property
    def distinct(self) -> int:
        """Target elements set, each counted once: at most n and at most the whole target."""
        return min(self.n, self.target.numel)

    @property
    def flops(self) -> int:
        return (self.n if self.combine else 0) + (self.distinct if self.mean else 0)


def _scatter(op: OpRecord) -> _Scatter:
    """The scatter of ``op``, in place or not: ``target[where] = source`` (or a reduction into it).

    n: scatter one per index element; index_put the elements target[indices] selects;
    index_add/copy/fill/reduce the index's slices along dim; masked_scatter and boolean masks every
    position the mask covers (the true count is data-dependent). A source is read n times (its
    elements at the indexed positions; a 0-d value once; a Python scalar not at all).
    """
    target = need(op, 0, "self")
    family = opnames.family(op.op).removeprefix("aten.")
    if family == "index_put":
        indices = list(arg(op, 1, "indices", []))
        n = _indexed_elements(target, indices)
        values = need(op, 2, "values")
        pieces = [(t, t.numel) for t in indices if isinstance(t, TensorMeta)] + [(values, min(values.numel, n))]
        combine = bool(arg(op, 3, "accumulate", False))  # accumulate=True: +=
        return _Scatter(target, n, pieces, combine=combine, reads_target=combine)
    if family == "masked_scatter":
        mask, source = need(op, 1, "mask"), need(op, 2, "source")
        n = target.numel
        return _Scatter(target, n, [(mask, mask.numel), (source, min(source.numel, n))])
    if family in ("index_add", "index_copy", "index_fill", "index_reduce"):
        dim, index = int(arg(op, 1, "dim")), need(op, 2, "index")
        slice_size = target.numel // target.shape[dim] if target.shape and target.shape[dim] else 1
        n = index.numel * slice_size
        pieces = [(index, index.numel)]
        added = tensor(op, 3, "source") or tensor(op, 3, "value")  # index_fill: a Scalar or a 0-d tensor
        if added is not None:
            pieces.append((added, min(added.numel, n)))
        if family == "index_reduce":  # prod, mean, amax, amin
            reduce, include_self = arg(op, 4, "reduce"), bool(op.kwargs.get("include_self", True))
            return _Scatter(target, n, pieces, combine=True, reads_target=include_self, mean=reduce == "mean")
        combine = family == "index_add"
        return _Scatter(target, n, pieces, combine=combine, reads_target=combine)
    # scatter (src, value, reduce, value_reduce), scatter_add, scatter_reduce (sum, prod, mean,
    # amax, amin; include_self)
    index, src = need(op, 2, "index"), tensor(op, 3, "src")
    n = index.numel
    pieces = [(index, n)] + ([(src, n)] if src is not None else [])
    reduce = arg(op, 4, "reduce")
    if family == "scatter_reduce":
        include_self = bool(op.kwargs.get("include_self", True))
        return _Scatter(target, n, pieces, combine=True, reads_target=include_self, mean=reduce == "mean")
    combine = family == "scatter_add" or reduce is not None
    return _Scatter(target, n, pieces, combine=combine, reads_target=combine)


_SCATTERS = ("scatter", "scatter_add", "scatter_reduce", "index_put", "index_add", "index_copy",
             "index_fill", "index_reduce", "masked_scatter")


@cost(*(f"aten.{name}_" for name in _SCATTERS), op_class=OpClass.DATA)
def scatter_into(op: OpRecord, conv: Conventions) -> Cost:
    """In place, ``target[where] = source`` (or a reduction into it): n elements set.

    Reads the indices (each once), the source elements it scatters (n; a scalar or 0-d value: none
    or 1) and, when it combines them with the target's own values (scatter_add_, scatter_ with a
    reduce, scatter_reduce_ and index_reduce_ with include_self, index_add_, index_put_ with
    accumulate), the n target elements it updates. 1 FLOP per element combined (scatter_reduce_ and
    index_reduce_ combine every element, with the reduction's identity where include_self=False),
    + 1 divide per target element set for ``mean``. Writes the n elements it sets, not the whole
    target. The compulsory model counts each target element at most once (min(n, numel)). Every
    read and write at its tensor's own item size, in both models.
    """
    s = _scatter(op)
    own = [(s.target, s.n)] if s.reads_target else []
    own_once = [(s.target, s.distinct)] if s.reads_target else []
    result = _read_cost(s.pieces + own, s.pieces + own_once)
    result.output_writes, result.compulsory_output = [access(s.n, s.target)], [access(s.distinct, s.target)]
    result.flops = s.flops
    return result


@cost(*(f"aten.{name}" for name in _SCATTERS), op_class=OpClass.DATA)
def scatter_copy(op: OpRecord, conv: Conventions) -> Cost:
    """Out of place: a copy of the target into a new tensor, then the scatter into the copy.

    Reads the whole target once (the copy, which holds the values a reduction combines), the
    indices and the n source elements scattered; writes the whole output (the shared rule). FLOPs
    as the in-place scatter.
    """
    s = _scatter(op)
    result = _read_cost([(s.target, s.target.numel)] + s.pieces)
    result.flops = s.flops
    return result


@cost("aten._pack_padded_sequence", op_class=OpClass.DATA)
def pack_padded_sequence(op: OpRecord, conv: Conventions) -> Cost:
    """(input, lengths, batch_first) -> (data, batch_sizes): copies the sum(lengths) valid time
    steps (data's elements) and reads the lengths, each at its own item size; writes data and
    batch_sizes."""
    source, lengths = need(op, 0, "input"), need(op, 1, "lengths")
    return _read_cost([(source, out_numel(op)), (lengths, lengths.numel)])


@cost("aten.zeros", "aten.ones", "aten.full", "aten.arange",
      "aten.rand", "aten.randn", "aten.randint", "aten.randperm", "aten.scalar_tensor",
      "aten.zeros_like", "aten.ones_like", "aten.full_like", "aten.rand_like",
      "aten.randn_like", "aten.randint_like", "aten.new_zeros", "aten.new_ones", "aten.new_full",
      "aten.linspace", "aten.logspace", "aten.eye", "aten.fill_", "aten.zero_",
      "aten.normal_", "aten.uniform_", "aten.bernoulli", "aten.bernoulli_", "aten.tensor",
      "aten.lift_fresh_copy", "aten._efficientzerotensor", op_class=OpClass.DATA)
def create(op: OpRecord, conv: Conventions) -> Cost:
    """Writes its output (or fills its target) and reads nothing."""
    return Cost(input_reads=0, compulsory_input=0)


@cost("aten.empty", "aten.empty_strided", "aten.empty_like", "aten.new_empty", "aten.new_empty_strided", op_class=OpClass.DATA)
def allocate(op: OpRecord, conv: Conventions) -> Cost:
    """Allocates memory (it counts in live memory) but neither reads nor writes any."""
    return Cost(input_reads=0, compulsory_input=0, output_writes=0, compulsory_output=0)


@cost("aten.embedding", op_class=OpClass.DATA)
def embedding(op: OpRecord, conv: Conventions) -> Cost:
    """(weight, indices): the rows gathered are read, not the whole table."""
    table, indices = need(op, 0, "weight"), need(op, 1, "indices")
    return _lookup_cost(table, indices, out_numel(op))


def _lookup_cost(table: TensorMeta, indices: TensorMeta, gathered: int) -> Cost:
    """The indices and the ``gathered`` elements of the table, each at its own item size."""
    index_reads, rows = [access(indices.numel, indices)], [access(gathered, table)]
    if table.is_weight:
        return Cost(input_reads=index_reads, compulsory_input=index_reads, weight_reads=rows, compulsory_weights=rows)
    return Cost(input_reads=index_reads + rows, compulsory_input=index_reads + rows)


@cost("aten._embedding_bag", "aten._embedding_bag_forward_only", "aten.embedding_bag", op_class=OpClass.DATA)
def embedding_bag(op: OpRecord, conv: Conventions) -> Cost:
    """(weight, indices, offsets, scale_grad_by_freq, mode, sparse, per_sample_weights, ...):
    gather, then reduce each bag.

    Every index gathers a row of D; the n rows of a bag reduce to one: sum n-1 adds per element,
    mean n-1 adds + 1 divide, max n-1 compares. Per-sample weights add 1 multiply per gathered
    element. Reads the indices, the offsets (where each bag starts), the per-sample weights (one
    per index) and the gathered rows, each at its own item size. Only the first output (the bags)
    is the result.
    """
    table, indices, offsets = need(op, 0, "weight"), need(op, 1, "indices"), tensor(op, 2, "offsets")
    per_sample_weights = tensor(op, 6, "per_sample_weights")
    mode = int(arg(op, 4, "mode", 0) or 0)
    out = op.outputs[0]
    width = table.shape[-1]
    gathered = indices.numel * width
    flops = gathered - out.numel + (out.numel if mode == 1 else 0)
    if per_sample_weights is not None:
        flops += gathered
    result = _lookup_cost(table, indices, gathered)
    extra = _read_cost([(t, t.numel) for t in (offsets, per_sample_weights) if t is not None])
    for field in ("input_reads", "compulsory_input", "weight_reads", "compulsory_weights"):
        setattr(result, field, [*(getattr(result, field) or []), *getattr(extra, field)])
    result.flops, result.outputs_used = max(flops, 0), 1
    return result


@cost("aten.native_dropout", "aten.dropout", "aten.feature_dropout", "aten.alpha_dropout",
      "dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout", op_class=OpClass.ELEMENTWISE)
def dropout(op: OpRecord, conv: Conventions) -> Cost:
    # The English write-up: "probability of dropout x input", and zero when not training. Recorded
    # at the function level, since the kernels differ by device (native_dropout, or bernoulli_,
    # div_ and mul).
    p = float(arg(op, 1, "p", 0.0) or 0.0)
    train = arg(op, 2, "train", op.kwargs.get("training", True))
    if not train:
        return Cost(input_reads=0, compulsory_input=0)  # identity: no arithmetic, nothing moved
    return Cost(flops=round(p * need(op, 0, "input").numel))


# Interpolation: FLOPs per output element and input elements read per output element.
# Nearest copies one input (0 FLOPs). Linear interpolation of 2 points is a + t(b - a): 3 FLOPs;
# bilinear is 3 such lerps (9), trilinear 7 (21); bicubic evaluates 4 taps per row (4 mul + 3 add)
# for 4 rows and once more across them: 5 x 7 = 35 FLOPs from 16 inputs.
_INTERPOLATION = {
    "nearest": (0, 1),
    "linear": (3, 2),
    "bilinear": (9, 4),
    "trilinear": (21, 8),
    "bicubic": (35, 16),
}


def _interpolation_kind(name: str) -> str:
    for kind in ("trilinear", "bilinear", "bicubic", "linear", "nearest"):
        if kind in name:
            return kind
    return "nearest"


@cost("aten.upsample_nearest1d", "aten.upsample_nearest2d", "aten.upsample_nearest3d",
      "aten._upsample_nearest_exact1d", "aten._upsample_nearest_exact2d", "aten._upsample_nearest_exact3d", op_class=OpClass.DATA)
@cost("aten.upsample_linear1d", "aten.upsample_bilinear2d", "aten._upsample_bilinear2d_aa",
      "aten.upsample_trilinear3d", "aten.upsample_bicubic2d", "aten._upsample_bicubic2d_aa", op_class=OpClass.ELEMENTWISE)
def interpolate(op: OpRecord, conv: Conventions) -> Cost:
    flops_per, reads_per = _INTERPOLATION[_interpolation_kind(op.op)]
    outputs = out_numel(op)
    return Cost(flops=flops_per * outputs, input_reads=reads_per * outputs)

