"""Data movement: views (free), copies, concatenation, creation, indexing, embedding, resizing, dropout.

Shape-only ops (view, reshape, transpose, permute, expand, slice, select, squeeze...) change
metadata only: no FLOPs and no memory traffic. Copies (clone, contiguous, cat, stack, pad, dtype
casts) read their input and write their output: memory, no FLOPs. Creation ops (zeros, arange...)
only write. An embedding lookup reads its indices and the rows it gathers, not the whole table.
"""

from __future__ import annotations

from howfast.capture.records import OpRecord
from howfast.conventions import Conventions
from howfast.costs.formulas._util import arg, out_numel, tensor
from howfast.costs.registry import Cost, cost, free

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
    "aten.mT", "aten.mH", "aten.adjoint", "aten.swapaxes", "aten.swapdims", "aten.split_copy",
)


@cost("aten.clone", "aten.contiguous", "aten._to_copy", "aten.to", "aten.copy",
      "aten.cat", "aten.concat", "aten.concatenate", "aten.stack", "aten.hstack", "aten.vstack",
      "aten.constant_pad_nd", "aten.pad", "aten.reflection_pad1d", "aten.reflection_pad2d",
      "aten.reflection_pad3d", "aten.replication_pad1d", "aten.replication_pad2d",
      "aten.replication_pad3d", "aten.repeat", "aten.tile", "aten.roll", "aten.flip",
      "aten.pixel_shuffle", "aten.pixel_unshuffle", "aten.channel_shuffle", "aten.native_channel_shuffle",
      "aten.im2col", "aten.col2im", "aten.repeat_interleave", "aten.tril", "aten.triu",
      "aten.masked_select", "aten.nonzero", "aten.index_put",
      "aten.scatter", "aten.scatter_add", "aten.slice_scatter", "aten.select_scatter",
      "aten.index_copy", "aten.masked_scatter", "aten.clone_")
def copy(op: OpRecord, conv: Conventions) -> Cost:
    return Cost()


@cost("aten.copy_")
def copy_into(op: OpRecord, conv: Conventions) -> Cost:
    # dst.copy_(src) overwrites dst without reading it.
    source = tensor(op, 1, "src")
    n = source.numel if source is not None and not source.is_weight else 0
    return Cost(input_reads=n, compulsory_input=n)


@cost("aten.index", "aten._unsafe_index", "aten.index_select", "aten.gather", "aten.take")
def gather(op: OpRecord, conv: Conventions) -> Cost:
    """Reads the elements it gathers (one per output) and its indices, not the whole source."""
    source = tensor(op, 0, "self")
    rows = out_numel(op)
    indices = sum(t.numel for t in op.inputs if t is not source and t.tid != source.tid)
    if source.is_weight:
        return Cost(input_reads=indices, compulsory_input=indices, weight_reads=rows, compulsory_weights=rows)
    return Cost(input_reads=indices + rows, compulsory_input=indices + rows)


@cost("aten.zeros", "aten.ones", "aten.full", "aten.arange",
      "aten.rand", "aten.randn", "aten.randint", "aten.randperm", "aten.scalar_tensor",
      "aten.zeros_like", "aten.ones_like", "aten.full_like", "aten.rand_like",
      "aten.randn_like", "aten.randint_like", "aten.new_zeros", "aten.new_ones", "aten.new_full",
      "aten.linspace", "aten.logspace", "aten.eye", "aten.fill_", "aten.zero_",
      "aten.normal_", "aten.uniform_", "aten.bernoulli", "aten.bernoulli_", "aten.tensor",
      "aten.lift_fresh_copy", "aten._efficientzerotensor")
def create(op: OpRecord, conv: Conventions) -> Cost:
    """Writes its output (or fills its target) and reads nothing."""
    return Cost(input_reads=0, compulsory_input=0)


@cost("aten.empty", "aten.empty_strided", "aten.empty_like", "aten.new_empty", "aten.new_empty_strided")
def allocate(op: OpRecord, conv: Conventions) -> Cost:
    """Allocates memory (it counts in live memory) but neither reads nor writes any."""
    return Cost(input_reads=0, compulsory_input=0, output_writes=0, compulsory_output=0)


@cost("aten.embedding")
def embedding(op: OpRecord, conv: Conventions) -> Cost:
    """(weight, indices): the rows gathered are read, not the whole table."""
    table, indices = tensor(op, 0, "weight"), tensor(op, 1, "indices")
    return _lookup_cost(table, indices.numel, out_numel(op))


def _lookup_cost(table, indices: int, gathered: int) -> Cost:
    if table.is_weight:
        return Cost(input_reads=indices, compulsory_input=indices, weight_reads=gathered, compulsory_weights=gathered)
    return Cost(input_reads=indices + gathered, compulsory_input=indices + gathered)


@cost("aten._embedding_bag", "aten._embedding_bag_forward_only", "aten.embedding_bag")
def embedding_bag(op: OpRecord, conv: Conventions) -> Cost:
    """(weight, indices, offsets, scale_grad_by_freq, mode, ...): gather, then reduce each bag.

    Every index gathers a row of D; the n rows of a bag reduce to one: sum n-1 adds per element,
    mean n-1 adds + 1 divide, max n-1 compares. Per-sample weights add 1 multiply per gathered
    element. Only the first output (the bags) is the result.
    """
    table, indices = tensor(op, 0, "weight"), tensor(op, 1, "indices")
    mode = int(arg(op, 4, "mode", 0) or 0)
    out = op.outputs[0]
    width = table.shape[-1]
    gathered = indices.numel * width
    flops = gathered - out.numel + (out.numel if mode == 1 else 0)
    if tensor(op, 6, "per_sample_weights") is not None:
        flops += gathered
    result = _lookup_cost(table, indices.numel, gathered)
    result.flops, result.outputs_used = max(flops, 0), 1
    return result


@cost("aten.native_dropout", "aten.dropout", "aten.feature_dropout", "aten.alpha_dropout",
      "dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout")
def dropout(op: OpRecord, conv: Conventions) -> Cost:
    # The English write-up: "probability of dropout x input", and zero when not training. Recorded
    # at the function level, since the kernels differ by device (native_dropout, or bernoulli_,
    # div_ and mul).
    x = tensor(op, 0, "input")
    p = float(arg(op, 1, "p", 0.0) or 0.0)
    train = arg(op, 2, "train", op.kwargs.get("training", True))
    if not train:
        return Cost(input_reads=0, compulsory_input=0)  # identity: no arithmetic, nothing moved
    return Cost(flops=round(p * x.numel))


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
      "aten._upsample_nearest_exact1d", "aten._upsample_nearest_exact2d", "aten._upsample_nearest_exact3d",
      "aten.upsample_linear1d", "aten.upsample_bilinear2d", "aten._upsample_bilinear2d_aa",
      "aten.upsample_trilinear3d", "aten.upsample_bicubic2d", "aten._upsample_bicubic2d_aa")
def interpolate(op: OpRecord, conv: Conventions) -> Cost:
    flops_per, reads_per = _INTERPOLATION[_interpolation_kind(op.op)]
    outputs = out_numel(op)
    return Cost(flops=flops_per * outputs, input_reads=reads_per * outputs)

