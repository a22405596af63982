"""Activation elements of the fused program (``--fused``), derived by hand.

Rule (docs/memory-models.md §5): the fused program allocates only the tensors it materialises. A
fusion group's intermediates (every output of its ops but the last one's) are never allocated and
count 0 activation elements; its final output counts once, on the op that created its storage (an
in-place epilogue, ``relu_`` or ``add_``, writes into its producer's output, which then stays).
The unfused convention (memory-models.md §6): every output in new memory counts, in-place results
and an eval batch norm's saved statistics do not. All tensors are float32 (4 bytes).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.conftest import analyze_quiet


def _short(name: str) -> str:
    return name.split(".")[1]


def _groups(report) -> list[list[str]]:
    return [[_short(n) for n in g["names"]] for g in report.to_dict()["fusion"]["groups"]]


def _conv_bn_relu(inplace: bool) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=inplace)).eval()


def test_conv_bn_relu_allocates_only_the_relu_output():
    report = analyze_quiet(_conv_bn_relu(inplace=False), "1x3x8x8", fused=True)
    n = 1 * 8 * 8 * 8  # every tensor of the chain is 1x8x8x8 = 512 elements
    assert _groups(report) == [["convolution", "native_batch_norm", "relu"]]
    # unfused: conv 512 + batch norm 512 (its saved statistics are not the result) + ReLU 512 = 1,536
    assert report.to_dict()["fusion"]["unfused_totals"]["activation_elements"] == 3 * n == 1536
    # fused: the conv and batch-norm outputs stay in registers; only the ReLU output is written: 512
    assert report.totals.activation_elements == report.to_dict()["fusion"]["fused_totals"]["activation_elements"] == n == 512
    # per op and per layer: conv 0, batch norm 0, ReLU 512; the whole model 512
    ops = [(_short(o.op), o.activation_elements) for o in report.ops if not o.op.startswith("aten.empty")]
    assert ops == [("convolution", 0), ("native_batch_norm", 0), ("relu", n)]
    assert [(row.name, row.activation_elements) for row in report.layers] == [("", n), ("0", 0), ("1", 0), ("2", n)]
    # the same tensor is the whole live set at the peak: 512 x 4 B = 2,048 (unfused: BN in + out, 4,096)
    assert report.totals.peak_activation_bytes == 4 * n == 2048
    assert report.to_dict()["fusion"]["unfused_totals"]["peak_activation_bytes"] == 2 * 4 * n == 4096


def test_conv_bn_relu_on_meta_ignores_the_saved_statistics():
    # on meta the batch norm's saved mean and invstd are [8] each, not [0]: not the result, never counted
    report = analyze_quiet(_conv_bn_relu(inplace=False).to("meta"), "1x3x8x8", fused=True)
    assert report.to_dict()["fusion"]["unfused_totals"]["activation_elements"] == 3 * 512
    assert report.totals.activation_elements == 512


def test_inplace_relu_at_the_model_output():
    report = analyze_quiet(_conv_bn_relu(inplace=True), "1x3x8x8", fused=True)
    # relu_ writes the batch-norm output in place and that tensor is the model output, so the group
    # stops at the batch norm: [conv, BN], BN's output is the group's final output
    assert _groups(report) == [["convolution", "native_batch_norm"]]
    # unfused: conv 512 + BN 512 + relu_ 0 (in place: no new tensor) = 1,024
    assert report.to_dict()["fusion"]["unfused_totals"]["activation_elements"] == 512 + 512 + 0 == 1024
    # fused: conv 0 (intermediate) + BN 512 + relu_ 0 = 512, the one tensor the program allocates
    assert report.totals.activation_elements == 512
    assert report.totals.peak_activation_bytes == 512 * 4


def test_inplace_relu_inside_a_group_keeps_the_tensor_it_writes():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
                          nn.Conv2d(8, 4, 1, bias=False)).eval()
    report = analyze_quiet(model, "1x3x8x8", fused=True)
    assert _groups(report) == [["convolution", "native_batch_norm", "relu_"]]
    # unfused: conv 512 + BN 512 + relu_ 0 + 1x1 conv 1x4x8x8 = 256: 1,280
    assert report.to_dict()["fusion"]["unfused_totals"]["activation_elements"] == 512 + 512 + 0 + 256 == 1280
    # fused: the conv output is an intermediate (0); the BN output is where relu_ writes the group's
    # result, so it is allocated (512); relu_ adds nothing; the 1x1 conv 256: 768 (not 256)
    assert report.totals.activation_elements == 0 + 512 + 0 + 256 == 768
    ops = [(_short(o.op), o.activation_elements) for o in report.ops if not o.op.startswith("aten.empty")]
    assert ops == [("convolution", 0), ("native_batch_norm", 512), ("relu_", 0), ("convolution", 256)]
    # and liveness agrees: peak at the 1x1 conv, its input 2,048 B + its output 1,024 B
    assert report.totals.peak_activation_bytes == (512 + 256) * 4 == 3072


class _Residual(nn.Module):
    """conv -> BN -> + x -> ReLU, out of place, or in place (torchvision's BasicBlock) with a head."""

    def __init__(self, inplace: bool) -> None:
        super().__init__()
        self.conv, self.bn, self.inplace = nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), inplace
        self.relu = nn.ReLU(inplace=inplace)
        self.head = nn.Conv2d(8, 4, 1, bias=False)

    def forward(self, x):
        out = self.bn(self.conv(x))
        if not self.inplace:
            return self.relu(out + x)
        out += x
        return self.head(self.relu(out))


def test_residual_epilogue_allocates_one_tensor():
    report = analyze_quiet(_Residual(inplace=False).eval(), "1x8x8x8", fused=True)
    assert _groups(report) == [["convolution", "native_batch_norm", "add", "relu"]]
    # unfused: conv, BN, add, ReLU each write a new 1x8x8x8 tensor: 4 x 512 = 2,048 (x is an input)
    assert report.to_dict()["fusion"]["unfused_totals"]["activation_elements"] == 4 * 512 == 2048
    # fused: three intermediates (conv, BN, add outputs) in registers; only the ReLU output: 512
    assert report.totals.activation_elements == 512
    # peak: x (2,048 B, read by the fused add) + the result 2,048 B never overlap with anything else
    # unfused: x + conv out + BN out at the batch norm = 3 x 2,048 = 6,144
    assert report.totals.peak_activation_bytes == 2048
    assert report.to_dict()["fusion"]["unfused_totals"]["peak_activation_bytes"] == 3 * 2048


def test_inplace_residual_epilogue_keeps_the_batch_norm_output():
    report = analyze_quiet(_Residual(inplace=True).eval(), "1x8x8x8", fused=True)
    assert _groups(report) == [["convolution", "native_batch_norm", "add_", "relu_"]]
    # unfused: conv 512 + BN 512 + add_ 0 + relu_ 0 (in place) + head 1x4x8x8 = 256: 1,280
    assert report.to_dict()["fusion"]["unfused_totals"]["activation_elements"] == 512 + 512 + 256 == 1280
    # fused: conv output 0 (intermediate); add_ and relu_ write the BN output in place, so it holds
    # the group's result: 512; head 256: 768
    assert report.totals.activation_elements == 512 + 256 == 768
    assert [(row.name, row.activation_elements) for row in report.layers] == [
        ("", 768), ("conv", 0), ("bn", 512), ("relu", 0), ("head", 256)]
    # peak at the batch norm: x (live until add_) 2,048 B + the BN output 2,048 B
    assert report.totals.peak_activation_bytes == 2 * 2048


class _TwoConsumers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 4, 1, bias=False), nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.bn(self.conv(x))
        return torch.relu(y) + torch.sigmoid(y)


def test_a_tensor_with_two_consumers_is_allocated():
    report = analyze_quiet(_TwoConsumers().eval(), "1x3x4x4", fused=True)
    # y (the BN output) is read by relu and sigmoid: the group [conv, BN] ends there; relu's output
    # has one reader, the add, so [relu, add] is a group; sigmoid's reader is already taken
    assert _groups(report) == [["convolution", "native_batch_norm"], ["relu", "add"]]
    n = 1 * 4 * 4 * 4  # every tensor is 64 elements
    # unfused: conv, BN, relu, sigmoid, add: 5 x 64 = 320
    assert report.to_dict()["fusion"]["unfused_totals"]["activation_elements"] == 5 * n == 320
    # fused: conv 0 (intermediate), y 64 (two readers: written), relu 0 (intermediate), sigmoid 64,
    # add 64: 192
    assert report.totals.activation_elements == 3 * n == 192
    ops = [(_short(o.op), o.activation_elements) for o in report.ops if not o.op.startswith("aten.empty")]
    assert ops == [("convolution", 0), ("native_batch_norm", n), ("relu", 0), ("sigmoid", n), ("add", n)]


@pytest.mark.parametrize("inplace, unfused, peak", [(False, 20 + 20 + 5, 100), (True, 20 + 0 + 5, 120)])
def test_linear_relu_linear(inplace, unfused, peak):
    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(inplace=inplace), nn.Linear(20, 5))
    report = analyze_quiet(model, "1x10", fused=True)
    assert _groups(report) == [["addmm", "relu_" if inplace else "relu"]]
    # unfused: 20 + 20 + 5 = 45 out of place; 20 + 0 + 5 = 25 with relu_ (memory-models.md §6)
    assert report.to_dict()["fusion"]["unfused_totals"]["activation_elements"] == unfused
    # fused, out of place: the first Linear's 20 outputs are an intermediate, the ReLU's 20 the result;
    # in place: relu_ writes the Linear's output, which is the result and stays. Either way 20 + 5 = 25.
    assert report.totals.activation_elements == 20 + 5 == 25
    # peak, out of place: the second Linear, 80 B in + 20 B out = 100 B; in place: the first Linear,
    # the 40 B input + its 80 B output (now the group's result, allocated) = 120 B
    assert report.totals.peak_activation_bytes == peak


def test_conv_bn_relu_fused_allocates_only_the_relu_output():
    fused = analyze_quiet(torch.nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU()).eval(),
                          "1x3x8x8", fused=True)
    assert fused.totals.activation_elements == 512 and fused.to_dict()["fusion"]["unfused_totals"]["activation_elements"] == 3 * 512
