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


@cost("aten.clone", "aten.contiguous", "aten._to_copy", "aten.to", "aten.copy", "aten.copy_",
      "aten.cat", "aten.concat", "aten.concatenate", "aten.stack", "aten.hstack", "aten.vstack",
      "aten.constant_pad_nd", "aten.pad", "aten.reflection_pad1d", "aten.reflection_pad2d",
      "aten.reflection_pad3d", "aten.replication_pad1d", "aten.replication_pad2d",
      "aten.replication_pad3d", "aten.repeat", "aten.tile", "aten.roll", "aten.flip",
      "aten._unsafe_index", "aten.index", "aten.index_select", "aten.gather", "aten.take",
      "aten.pixel_shuffle", "aten.pixel_unshuffle", "aten.channel_shuffle", "aten.native_channel_shuffle",
      "aten.im2col", "aten.col2im", "aten.repeat_interleave", "aten.tril", "aten.triu",
      "aten.masked_select", "aten.nonzero", "aten.index_put",
      "aten.scatter", "aten.scatter_add", "aten.slice_scatter", "aten.select_scatter",
      "aten.index_copy", "aten.masked_scatter", "aten.new_empty_strided", "aten.clone_")
def copy(op: OpRecord, conv: Conventions) -> Cost:
    return Cost()


@cost("aten.zeros", "aten.ones", "aten.full", "aten.empty", "aten.empty_strided", "aten.arange",
      "aten.rand", "aten.randn", "aten.randint", "aten.randperm", "aten.scalar_tensor",
      "aten.zeros_like", "aten.ones_like", "aten.full_like", "aten.empty_like", "aten.rand_like",
      "aten.randn_like", "aten.randint_like", "aten.new_zeros", "aten.new_ones", "aten.new_full",
      "aten.new_empty", "aten.linspace", "aten.logspace", "aten.eye", "aten.fill_", "aten.zero_",
      "aten.normal_", "aten.uniform_", "aten.bernoulli", "aten.bernoulli_", "aten.tensor",
      "aten.lift_fresh_copy", "aten._efficientzerotensor")
def create(op: OpRecord, conv: Conventions) -> Cost:
    return Cost(input_reads=0)


@cost("aten.embedding", "aten._embedding_bag", "aten.embedding_bag")
def embedding(op: OpRecord, conv: Conventions) -> Cost:
    # (weight, indices, ...): the rows gathered are read, not the whole table.
    indices = tensor(op, 1, "indices")
    rows = out_numel(op)
    return Cost(input_reads=indices.numel if indices is not None else 0, weight_reads=rows, compulsory_weight_reads=rows)


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
        return Cost(input_reads=0)  # identity: no arithmetic, nothing moved
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

