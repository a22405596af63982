"""``analyze_training(checkpoint=...)``: activation checkpointing, its recomputation and the memory it saves,
derived by hand (docs/training.md, "Activation checkpointing").

The MLP-block model: 3 blocks ``x + fc2(GELU(fc1(x)))``, fc1 = Linear(8, 32), fc2 = Linear(32, 8), on a
4x8 input, loss ``sum``. By hand (docs/formulas.md: addmm 2 x MACs + the bias, one add per output; GELU 5
FLOPs per element, ``conventions.ELEMENTWISE_FLOPS``):

* a block's forward: fc1's addmm 2 x (4 x 8 x 32) + 4 x 32 = 2,176 (1,024 MACs); GELU 5 x 128 = 640;
  fc2's addmm 2 x (4 x 32 x 8) + 4 x 8 = 2,080 (1,024 MACs); the residual add 32: 4,928 FLOPs;
* recomputed in backward (PyTorch's default early stop): fc1's addmm and GELU, 2,816 a block, 8,448
  (3,072 MACs) in all. fc2's autograd node packs its inputs (the GELU output and fc2's transposed
  weight), the last tensors the block saves, before its kernel runs: the recomputation stops there, so
  fc2's addmm and the residual add are not re-run. With the early stop off the whole forward is
  re-run: 3 x 4,928 = 14,784 FLOPs (6,144 MACs);
* saved activations without checkpointing, 4 bytes an element: each block's input (4 x 8, for fc1's
  weight gradient), fc1's output (4 x 32, for GELU's backward) and GELU's output (4 x 32, for fc2's
  weight gradient): 128 + 512 + 512 = 1,152 a block, 3,456 in all. With checkpointing only what the
  checkpoint itself saves, its input (128 a block: 384); inside the block a placeholder is saved
  instead of each tensor, and backward recomputes them. Bytes saved: 3,072.
"""

from __future__ import annotations

import collections
import copy
import functools

import pytest
import torch
import torch.utils.checkpoint
from torch import nn

import howfast
from howfast.capture.training import storage_key
from howfast.errors import UsageError
from howfast.report.load import report_from_dict
from howfast.report.report import Phase, Report
from howfast.training.step import loss_function
from howfast.zoo import build


class Block(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d, 4 * d)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(self.act(self.fc1(x)))


def _blocks() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(*(Block(8) for _ in range(3)))


BLOCK_FORWARD = 2_176 + 640 + 2_080 + 32


def _phase(report: Report, name: str) -> Phase:
    return next(p for p in report.phases if p.name == name)


def _hooked_saved_bytes(model: nn.Module, x: torch.Tensor, loss: str, cls: str) -> int:
    """Bytes of the distinct storages autograd packs in forward with ``cls`` checkpointed by torch itself
    (a copy of the model): inside a checkpoint its own hook packs, so this sees what stays saved."""
    model = copy.deepcopy(model)
    for m in model.modules():
        if type(m).__name__ == cls:
            m.forward = functools.partial(torch.utils.checkpoint.checkpoint, type(m).forward.__get__(m), use_reentrant=False)
    weights = {storage_key(t) for t in list(model.parameters()) + list(model.buffers())}
    packed: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = storage_key(t)
        if key is not None and key not in weights:
            packed[key] = t.untyped_storage().nbytes()
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss_function(loss)(model(x))
    return sum(packed.values())


def test_mlp_blocks_by_hand():
    model, x = _blocks(), torch.randn(4, 8)
    plain = howfast.analyze_training(model, x)
    report = howfast.analyze_training(model, x, checkpoint="Block")
    memory = report.training
    assert memory is not None and memory.checkpoint is not None and plain.training is not None
    c = memory.checkpoint
    assert (c.types, c.modules) == (["Block"], ["0", "1", "2"])
    assert _phase(plain, "forward").totals.flops == 3 * BLOCK_FORWARD + 31  # and the loss: a sum of 32 outputs
    assert (c.recompute_flops, c.recompute_macs) == (3 * (2_176 + 640), 3 * 1_024) == (8_448, 3_072)
    assert {k: v for k, v in c.recompute_by_layer.items() if v} == {
        f"{b}.{m}": f for b in "012" for m, f in (("fc1", 2_176), ("act", 640))}
    assert report.totals.flops == plain.totals.flops + c.recompute_flops
    assert report.totals.macs == plain.totals.macs + c.recompute_macs
    # the forward is the same op for op; the recomputation is all in backward
    assert [(o.op, o.module, o.flops) for o in _phase(report, "forward").ops] == \
        [(o.op, o.module, o.flops) for o in _phase(plain, "forward").ops]
    assert _phase(report, "backward").totals.flops == _phase(plain, "backward").totals.flops + 8_448
    assert [(r.name, r.calls) for r in report.layers] == [(r.name, r.calls) for r in plain.layers]  # not re-counted
    assert (c.saved_without, c.saved_with, c.bytes_saved) == (3_456, 384, 3_072)
    assert plain.training.saved_activations == c.saved_without and memory.saved_activations == c.saved_with
    assert memory.saved_by_layer == {"": 128, "0": 128, "1": 128}  # the input, and blocks 0 and 1's outputs
    assert c.saved_with == _hooked_saved_bytes(model, x, "sum", "Block")
    assert (c.peak_without, c.peak_with) == (plain.training.peak, memory.peak)


def test_checkpoint_bookkeeping_ops_are_counted():
    # what checkpointing adds to backward beyond the recomputed addmm and GELU: the transposes of the
    # weights (the recomputed forward's own) and the detaches of torch.utils.checkpoint's hooks, all
    # with a formula (zero FLOPs: views)
    model, x = _blocks(), torch.randn(4, 8)
    plain = howfast.analyze_training(model, x)
    report = howfast.analyze_training(model, x, checkpoint="Block")
    assert report.uncounted_ops == [] and all(op.counted for p in report.phases for op in p.ops)
    added = collections.Counter(o.op for o in _phase(report, "backward").ops)
    added.subtract(o.op for o in _phase(plain, "backward").ops)
    extra = {k: v for k, v in added.items() if v}
    assert extra["aten.addmm.default"] == 3 and extra["aten.gelu.default"] == 3 and extra["aten.t.default"] == 6
    assert set(extra) == {"aten.addmm.default", "aten.gelu.default", "aten.t.default", "aten.detach.default"}
    assert all(o.flops == 0 for o in _phase(report, "backward").ops if o.op in ("aten.t.default", "aten.detach.default"))


def test_without_the_early_stop_the_whole_forward_is_recomputed():
    model, x = _blocks(), torch.randn(4, 8)
    with torch.utils.checkpoint.set_checkpoint_early_stop(False):
        report = howfast.analyze_training(model, x, checkpoint=["Block"])
    c = report.training.checkpoint if report.training is not None else None
    assert c is not None
    assert (c.recompute_flops, c.recompute_macs) == (3 * BLOCK_FORWARD, 3 * 2_048) == (14_784, 6_144)
    assert {k: v for k, v in c.recompute_by_layer.items() if v} == {
        f"{b}{m}": f for b in "012" for m, f in ((".fc1", 2_176), (".act", 640), (".fc2", 2_080), ("", 32))}
    assert (c.saved_without, c.saved_with) == (3_456, 384)


def test_the_model_is_left_unchanged():
    model, x = _blocks(), torch.randn(4, 8)
    model.eval()
    modules = [(name, id(m)) for name, m in model.named_modules()]
    params = {k: (id(v), v.detach().clone()) for k, v in model.named_parameters()}
    report = howfast.analyze_training(model, x, optimizer="adamw", checkpoint="Block")
    assert report.training is not None and report.training.checkpoint is not None
    assert [(name, id(m)) for name, m in model.named_modules()] == modules
    assert all("forward" not in vars(m) for m in model.modules())  # no instance forward left behind
    assert all(type(m).forward is Block.forward for m in model if isinstance(m, Block))
    for k, v in model.named_parameters():
        assert id(v) == params[k][0] and torch.equal(v, params[k][1]) and v.grad is None
    assert not any(m.training for m in model.modules())
    again = howfast.analyze_training(model, x)  # and it still runs as it did, without checkpointing
    assert again.training is not None and again.training.checkpoint is None
    assert again.totals.flops == report.totals.flops - report.training.checkpoint.recompute_flops - \
        _phase(report, "optimizer").totals.flops


def test_outermost_only_names_and_refusals():
    model, x = _blocks(), torch.randn(4, 8)
    memory = howfast.analyze_training(model, x, checkpoint="Linear,Block").training
    c = memory.checkpoint if memory is not None else None
    assert c is not None and c.modules == ["0", "1", "2"] and c.types == ["Linear", "Block"]
    with pytest.raises(UsageError, match=r"^no module of class 'TransformerBlock' in the model to checkpoint; nearest: .*Block"):
        howfast.analyze_training(model, x, checkpoint="TransformerBlock")
    with pytest.raises(UsageError, match="no module of class 'Blok'"):
        howfast.analyze_training(model, x, checkpoint=["Block", "Blok"])


def test_json_round_trip():
    report = howfast.analyze_training(_blocks(), torch.randn(4, 8), checkpoint="Block")
    assert report.training is not None
    data = report.to_dict(include_ops=False)["training_memory"]["checkpoint"]
    assert data == {"types": ["Block"], "modules": ["0", "1", "2"], "recompute_flops": 8_448, "recompute_macs": 3_072,
                    "recompute_ops": data["recompute_ops"], "saved_without": 3_456, "saved_with": 384, "bytes_saved": 3_072,
                    "peak_without": data["peak_without"], "peak_with": report.training.peak,
                    "recompute_by_layer": data["recompute_by_layer"]}
    again = report_from_dict(report.to_dict(include_ops=False))
    assert again.training == report.training


# ViT-Ti blocks (d 192, 3 heads, MLP 768) on a 32x32 image: T = 4 patches + the class token = 5 tokens,
# 2 blocks, 10 classes, loss cross_entropy. The early stop leaves out of each block's recomputation what
# comes after its last saved tensors (fc2's input and transposed weight, packed before fc2's kernel
# runs): fc2's addmm 2 x (5 x 768 x 192) + 5 x 192 = 1,475,520 and the residual add 5 x 192 = 960.
VIT_TAIL = 1_475_520 + 960


def test_vit_blocks_recompute_their_forward_and_save_their_inputs():
    torch.manual_seed(0)
    model, x = build("vit_tiny", {"img_size": 32, "depth": 2, "num_classes": 10}), torch.randn(1, 3, 32, 32)
    report = howfast.analyze_training(model, x, loss="cross_entropy", checkpoint="Block")
    with torch.utils.checkpoint.set_checkpoint_early_stop(False):
        full = howfast.analyze_training(model, x, loss="cross_entropy", checkpoint="Block")
    assert report.training is not None and full.training is not None
    c, f = report.training.checkpoint, full.training.checkpoint
    assert c is not None and f is not None and c.modules == ["blocks.0", "blocks.1"]
    forward = _phase(report, "forward")
    blocks = sum(forward.layer(b).flops for b in c.modules)
    assert f.recompute_flops == blocks  # the blocks' forward FLOPs, exactly
    assert c.recompute_flops == blocks - 2 * VIT_TAIL
    for path, flops in f.recompute_by_layer.items():  # each module recomputes what its forward did
        assert flops == sum(o.flops for o in forward.ops if o.module == path), path
    # saved with checkpointing, by hand (4 bytes an element; one token row is 192 x 4 = 768 bytes): the
    # image 3 x 32 x 32 x 4 = 12,288 (the patch conv's weight gradient); each checkpoint's input, 5 rows
    # = 3,840, twice; the last block's output (3,840, for the final LayerNorm's backward); that norm's
    # output (3,840: the head reads its class-token row) and mean and rstd (2 x 5 x 4 = 40); the loss's
    # log-softmax output (10 x 4 = 40) and nll_loss's target (8) and total weight (4).
    assert report.training.saved_activations == 12_288 + 2 * 3_840 + 3_840 + 3_880 + 52 == 27_740
    assert report.training.saved_by_layer == {"": 12_288 + 3_840 + 52, "blocks.0": 3_840, "blocks.1": 3_840, "norm": 3_880}
    assert c.saved_with == _hooked_saved_bytes(model, x, "cross_entropy", "Block")
    assert c.saved_without > 5 * c.saved_with and c.bytes_saved == c.saved_without - c.saved_with
    assert report.uncounted_ops == []


def _gpt2(device: str = "cpu") -> nn.Module:
    torch.manual_seed(0)
    return build("gpt2", {"layers": 2, "d_model": 64, "heads": 2, "vocab": 100}, device=device)


def test_gpt2_blocks_with_an_interrupted_dropout():
    # GPT2Block ends with the MLP's dropout, then the residual add. The dropout is recorded whole in
    # forward (p x n = 205 FLOPs for 2 x 16 x 64 = 2,048 elements); its mask is the block's last saved
    # tensor, so the recomputation stops inside it: what ran of it is counted by its kernels (empty_like,
    # bernoulli_, and div_ 2,048; the mul that would use the mask never runs), and the add (2,048) is
    # not re-run.
    model, ids = _gpt2(), torch.zeros(2, 16, dtype=torch.long)
    report = howfast.analyze_training(model, ids, loss="cross_entropy", checkpoint="GPT2Block")
    with torch.utils.checkpoint.set_checkpoint_early_stop(False):
        full = howfast.analyze_training(model, ids, loss="cross_entropy", checkpoint="GPT2Block")
    assert report.training is not None and full.training is not None
    c, f = report.training.checkpoint, full.training.checkpoint
    assert c is not None and f is not None and c.modules == ["h.0", "h.1"]
    forward = _phase(report, "forward")
    blocks = sum(forward.layer(b).flops for b in c.modules)
    assert f.recompute_flops == blocks
    dropout = forward.layer("h.0.mlp.dropout").flops
    assert dropout == 205
    assert c.recompute_flops == blocks - 2 * (dropout + 2_048) + 2 * 2_048
    assert c.recompute_by_layer["h.0.mlp.dropout"] == 2_048
    assert c.saved_with == _hooked_saved_bytes(model, ids, "cross_entropy", "GPT2Block")
    assert c.saved_with < c.saved_without / 4
    assert report.uncounted_ops == []


def test_gpt2_blocks_on_meta():
    model = _gpt2("meta")
    report = howfast.analyze_training(model, "2x16:int64", loss="cross_entropy", optimizer="adamw", checkpoint="GPT2Block")
    c = report.training.checkpoint if report.training is not None else None
    assert c is not None and c.modules == ["h.0", "h.1"]
    assert c.saved_with < c.saved_without / 4 and c.recompute_flops > 0
    assert all(p.device.type == "meta" and p.grad is None for p in model.parameters())
