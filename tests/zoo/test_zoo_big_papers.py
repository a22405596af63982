"""DenseNet-121, ResNeXt-50 32x4d, ConvNeXt-T, Swin-T and BERT-base: published parameter and MAC
counts, every op counted, meta builds, small CPU forwards, the layouts' names, and (Swin, BERT) the
PyTorch-vs-ONNX comparison of tests/onnx/test_parity.py with their attention modules' byte rules."""

from __future__ import annotations

import warnings

import pytest
import torch
from tests.conftest import analyze_quiet
from tests.onnx.test_parity import KEYS, cpu_model, own_costs
from torch import nn

import howfast
from howfast.api import analyze as analyze_onnx
from howfast.graph.inputs import materialise, parse_inputs
from howfast.onnx.export import export_model
from howfast.zoo import ZOO, build

VISION = ["densenet121", "resnext50_32x4d", "convnext_tiny", "swin_t"]
MODELS = [*VISION, "bert_base"]

# torchvision's weight metadata ("num_params"; "_ops", the GFLOPS column of its model table, counts
# multiply-adds), torchvision/models/{densenet,resnet,convnext,swin_transformer}.py and the pages
# https://pytorch.org/vision/stable/models/generated/torchvision.models.<name>.html; BERT-base:
# Hugging Face bert-base-uncased (BertModel with its pooler), cross-checked against transformers below.
PUBLISHED_PARAMS = {
    "densenet121": 7_978_856,
    "resnext50_32x4d": 25_028_904,
    "convnext_tiny": 28_589_128,
    "swin_t": 28_288_354,
    "bert_base": 109_482_240,
}
PUBLISHED_GMACS = {"densenet121": 2.83, "resnext50_32x4d": 4.23, "convnext_tiny": 4.46, "swin_t": 4.49}
TORCHVISION_OPS = {"densenet121": 2.834, "resnext50_32x4d": 4.23, "convnext_tiny": 4.456, "swin_t": 4.491}  # "_ops", 3 decimals


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def bert_macs(layers: int = 12, d: int = 768, ffn: int = 3072, tokens: int = 128) -> int:
    """Per layer: q, k, v and output projections (4 d^2 per token), the feed-forward (2 d ffn per token)
    and attention (Q K^T and P V: 2 T^2 d over all heads); the pooler is one d x d Linear on [CLS]."""
    return layers * ((4 * d * d + 2 * d * ffn) * tokens + 2 * tokens * tokens * d) + d * d


@pytest.fixture(scope="module")
def reports() -> dict[str, howfast.Report]:
    return {name: analyze_quiet(build(name, device="meta"), ZOO[name].default_input) for name in MODELS}


@pytest.mark.parametrize("name", MODELS)
def test_published_parameter_count_exact(name: str, reports) -> None:
    assert n_params(build(name, device="meta")) == PUBLISHED_PARAMS[name]
    assert reports[name].totals.params == PUBLISHED_PARAMS[name]


@pytest.mark.parametrize("name", VISION)
def test_published_macs_within_half_a_percent(name: str, reports) -> None:
    report = reports[name]
    assert report.uncounted_ops == [] and report.coverage.share == 1.0
    assert report.totals.macs == pytest.approx(PUBLISHED_GMACS[name] * 1e9, rel=0.005)
    assert report.totals.macs == pytest.approx(TORCHVISION_OPS[name] * 1e9, rel=0.0005)


def test_bert_macs_are_the_hand_formula(reports) -> None:
    report = reports["bert_base"]
    assert report.uncounted_ops == [] and report.coverage.share == 1.0
    assert report.totals.macs == bert_macs() == 11_174_215_680
    without_pooler = 12 * (4 * 768**2 + 2 * 768 * 3072) * 128 + 12 * 2 * 128**2 * 768
    assert report.totals.macs == pytest.approx(without_pooler, rel=0.005)
    eager = analyze_quiet(build("bert_base", {"attention": "eager", "layers": 2}, device="meta"), "1x128:int64")
    assert eager.totals.macs == bert_macs(layers=2) and eager.uncounted_ops == []


def test_bert_matches_transformers_bertmodel_names_and_count() -> None:
    from transformers import BertConfig, BertModel

    with torch.device("meta"):
        reference = BertModel(BertConfig())
    ours = build("bert_base", device="meta")
    shapes = {name: tuple(p.shape) for name, p in ours.named_parameters()}
    assert shapes == {name: tuple(p.shape) for name, p in reference.named_parameters()}
    assert n_params(reference) == n_params(ours) == PUBLISHED_PARAMS["bert_base"]
    assert {n for n, _ in ours.named_buffers()} == {n for n, _ in reference.named_buffers()}
    assert set(dict(ours.named_modules())) == set(dict(reference.named_modules()))


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_bert_computes_what_transformers_computes(attention: str) -> None:
    from transformers import BertConfig, BertModel

    sizes = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=128, vocab_size=100,
                 max_position_embeddings=32)
    torch.manual_seed(0)
    reference = BertModel(BertConfig(**sizes, attn_implementation=attention)).eval()
    ours = build("bert_base", dict(layers=2, hidden=64, heads=4, intermediate=128, vocab=100, max_positions=32, attention=attention))
    ours.load_state_dict(reference.state_dict(), strict=True)
    ids, segments = torch.randint(0, 100, (2, 16)), torch.randint(0, 2, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.long)
    mask[1, 10:] = 0
    with torch.no_grad():
        for kwargs in ({}, {"token_type_ids": segments, "attention_mask": mask}):
            expected = reference(ids, **kwargs)
            hidden, pooled = ours(ids, **kwargs)
            torch.testing.assert_close(hidden, expected.last_hidden_state)
            torch.testing.assert_close(pooled, expected.pooler_output)


@pytest.mark.parametrize("name", MODELS)
def test_meta_build_and_forward_at_the_default_input(name: str) -> None:
    model = build(name, device="meta")
    assert all(p.device.type == "meta" for p in model.parameters())
    spec = parse_inputs(ZOO[name].default_input)[0]
    x = torch.empty(spec.shape, dtype=spec.dtype, device="meta")
    with torch.no_grad():
        out = model(x)
    if name == "bert_base":
        assert out[0].shape == (1, 128, 768) and out[1].shape == (1, 768) and out[0].device.type == "meta"
    else:
        assert out.shape == (1, 1000) and out.device.type == "meta"


@pytest.mark.parametrize(("name", "options"), [
    ("densenet121", {}), ("resnext50_32x4d", {}), ("convnext_tiny", {}), ("swin_t", {"img_size": 64}),
])
def test_small_cpu_forward(name: str, options: dict) -> None:
    torch.manual_seed(0)
    model = build(name, {**options, "num_classes": 10})
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_bert_small_cpu_forward() -> None:
    model = build("bert_base", {"layers": 2, "vocab": 1000, "max_positions": 64})
    with torch.no_grad():
        hidden, pooled = model(torch.randint(0, 1000, (2, 16)))
    assert hidden.shape == (2, 16, 768) and pooled.shape == (2, 768)
    assert torch.isfinite(hidden).all() and (pooled.abs() <= 1).all()  # tanh


def test_torchvision_names() -> None:
    keys = {name: set(build(name, device="meta").state_dict()) for name in VISION}
    assert {"features.conv0.weight", "features.norm0.running_var", "features.denseblock1.denselayer6.conv2.weight",
            "features.transition3.conv.weight", "features.denseblock4.denselayer16.norm1.weight", "features.norm5.bias",
            "classifier.weight"} <= keys["densenet121"]
    assert {"conv1.weight", "layer1.0.downsample.0.weight", "layer4.2.conv3.weight", "fc.bias"} <= keys["resnext50_32x4d"]
    assert {"features.0.0.weight", "features.0.1.weight", "features.1.0.layer_scale", "features.1.0.block.0.weight",
            "features.1.0.block.2.weight", "features.1.0.block.3.weight", "features.1.0.block.5.weight", "features.2.0.weight",
            "features.2.1.weight", "features.7.2.block.5.bias", "classifier.0.weight", "classifier.2.weight"} <= keys["convnext_tiny"]
    assert {"features.0.0.weight", "features.0.2.weight", "features.1.0.norm1.weight", "features.1.0.attn.qkv.weight",
            "features.1.1.attn.proj.bias", "features.1.1.attn.relative_position_bias_table",
            "features.1.1.attn.relative_position_index", "features.1.1.mlp.0.weight", "features.1.1.mlp.3.weight",
            "features.2.reduction.weight", "features.2.norm.weight", "features.7.1.norm2.bias", "norm.weight",
            "head.weight"} <= keys["swin_t"]
    assert not any("attn_mask" in k for k in keys["swin_t"])  # our mask buffer is not part of the state dict


def test_densenet_channels() -> None:
    model = build("densenet121", device="meta")
    f = model.features
    assert f.denseblock1.denselayer1.conv1.out_channels == 128 and f.denseblock1.denselayer1.conv2.out_channels == 32
    assert [f.get_submodule(f"transition{i}").conv.out_channels for i in (1, 2, 3)] == [128, 256, 512]
    assert f.norm5.num_features == 1024 and model.classifier.in_features == 1024


def test_resnext_grouped_bottleneck_and_resnet_unchanged() -> None:
    model = build("resnext50_32x4d", device="meta")
    conv2 = model.layer1[0].conv2
    assert (conv2.groups, conv2.in_channels, conv2.out_channels) == (32, 128, 128)
    assert model.layer4[0].conv2.out_channels == 1024 and model.layer4[0].conv2.stride == (2, 2)
    assert model.layer2[0].conv1.stride == (1, 1)  # v1.5: the stride sits on the grouped 3x3
    assert build("resnet50", device="meta").layer1[0].conv2.groups == 1
    # one path of width 64 is ResNet-50 itself
    assert n_params(build("resnext50_32x4d", {"groups": 1, "width_per_group": 64}, device="meta")) == 25_557_032


def test_convnext_block_and_stochastic_depth() -> None:
    model = build("convnext_tiny", {"num_classes": 10})
    block = model.features[5][8]
    dw = block.block[0]
    assert (dw.kernel_size, dw.groups, dw.in_channels) == ((7, 7), 384, 384)
    assert block.layer_scale.shape == (384, 1, 1) and torch.allclose(block.layer_scale, torch.full((384, 1, 1), 1e-6))
    assert model.features[1][0].stochastic_depth.p == 0.0 and model.features[7][2].stochastic_depth.p == pytest.approx(0.1)
    x = torch.randn(4, 384, 8, 8)
    with torch.no_grad():
        assert torch.equal(block.stochastic_depth(x), x)  # eval: identity
        block.stochastic_depth.train()
        block.stochastic_depth.p = 0.5
        kept = block.stochastic_depth(x)
    per_sample = [torch.equal(kept[i], torch.zeros_like(x[i])) or torch.allclose(kept[i], 2 * x[i]) for i in range(4)]
    assert all(per_sample)


def regions(side: int, window: int, shift: int) -> dict[tuple[int, int], tuple[int, ...]]:
    """Which positions of a ``side`` x ``side`` map attend to each other after the cyclic shift: the same
    window of the rolled map and the same region (rows/columns that were apart before the roll differ)."""
    def label(r: int) -> int:
        return 0 if r < side - window else (1 if r < side - shift else 2)

    groups = {}
    for y in range(side):
        for x in range(side):
            ry, rx = (y - shift) % side, (x - shift) % side
            groups[(y, x)] = (ry // window, rx // window, label(ry), label(rx))
    return groups


def test_swin_shifted_windows_attend_only_within_their_region() -> None:
    torch.manual_seed(0)
    attn = build("swin_t", {"img_size": 56}, device="cpu").features[1][1].attn  # 14 x 14 map, window 7, shift 3
    assert attn.shift == 3 and attn.attn_mask is not None and attn.attn_mask.shape == (4, 49, 49)
    x = torch.randn(1, 14, 14, 96)
    groups = regions(14, 7, 3)
    with torch.no_grad():
        base = attn(x)
        for probe in [(0, 0), (5, 12), (9, 3), (13, 13)]:
            moved = x.clone()
            moved[0, probe[0], probe[1]] += 1.0
            changed = (attn(moved) - base).abs().amax(-1)[0] > 1e-6
            expected = torch.tensor([[groups[(y, x_)] == groups[probe] for x_ in range(14)] for y in range(14)])
            assert torch.equal(changed, expected), probe


def test_swin_mask_built_once_or_per_call_gives_the_same_output() -> None:
    torch.manual_seed(0)
    built = build("swin_t", {"img_size": 64, "num_classes": 10})
    other = build("swin_t", {"img_size": 224, "num_classes": 10})  # at 64 x 64 its masks are made in the forward
    other.load_state_dict(built.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(built(x), other(x))
    assert build("swin_t", device="meta").features[7][1].attn.attn_mask is None  # 7 x 7 map, one window: no shift
    per_call = analyze_quiet(build("swin_t", {"img_size": 64}, device="meta"), "1x3x224x224")
    assert per_call.uncounted_ops == [] and per_call.totals.macs == howfast.analyze(build("swin_t", device="meta"), "1x3x224x224").totals.macs


def test_index_buffers_survive_to_empty() -> None:
    swin = build("swin_t", device="meta").to_empty(device="cpu")
    attn = swin.features[1][1].attn
    assert int(attn.relative_position_index.min()) == 0 and int(attn.relative_position_index.max()) == 168
    assert set(attn.attn_mask.unique().tolist()) == {-100.0, 0.0}
    bert = build("bert_base", {"layers": 1}, device="meta").to_empty(device="cpu")
    assert torch.equal(bert.embeddings.position_ids, torch.arange(512).unsqueeze(0))
    assert not bert.embeddings.token_type_ids.any()


# ------------------------------------------------------------------ ONNX parity (Swin-T, BERT-base)

def clone_and_roll_bytes(report, module: str) -> tuple[int, int]:
    """Bytes PyTorch's contiguous copies (aten.clone) and rolls (aten.roll) of ``module`` write."""
    ops = [op for op in report.ops if op.module == module]
    clones = sum(op.bytes_written for op in ops if op.op == "aten.clone.default")
    rolls = sum(op.bytes_written for op in ops if op.op == "aten.roll.default")
    return clones, rolls


@pytest.mark.parametrize(("name", "opts"), [
    ("swin_t", {}),
    ("bert_base", {"layers": 2, "vocab": 4096}),
    ("bert_base", {"layers": 2, "vocab": 4096, "attention": "eager"}),
])
def test_onnx_parity(name: str, opts: dict, tmp_path) -> None:
    entry = ZOO[name]
    torch_report = analyze_quiet(build(name, opts, device="meta"), entry.default_input)
    model = cpu_model(name, opts)
    args, kwargs = materialise(parse_inputs(entry.default_input), "cpu", torch.float32)
    path = export_model(model, args, kwargs, tmp_path / f"{name}.onnx")
    del model
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every ONNX op is counted
        onnx_report = analyze_onnx(path)
    t, o = torch_report.totals, onnx_report.totals
    assert (o.params, o.macs, o.flops) == (t.params, t.macs, t.flops)
    mine = own_costs(torch_report)
    theirs = own_costs(onnx_report, reference=mine)
    special = 0
    for module in sorted(set(mine) | set(theirs)):
        a = mine.get(module, {"type": "-", **{k: 0 for k in KEYS}})
        b = theirs.get(module, {"type": "-", **{k: 0 for k in KEYS}})
        assert (b["params"], b["macs"], b["flops"]) == (a["params"], a["macs"], a["flops"]), module
        read, written = a["bytes_read"] - b["bytes_read"], a["bytes_written"] - b["bytes_written"]
        if a["type"] == "ShiftedWindowAttention":
            # PyTorch copies the permuted windows, q and k^T for the batched matmul, the heads' output and the
            # bias table to contiguous memory; ONNX's Transpose and Reshape are views. ONNX rolls one axis at a
            # time (Slice, Slice, Concat), so a 2-axis roll moves its tensor twice.
            clones, rolls = clone_and_roll_bytes(torch_report, module)
            assert clones > 0 and (read, written) == (clones - rolls, clones - rolls), module
            special += 1
        elif a["type"] == "BertSelfAttention" and opts.get("attention") == "eager":
            clones, _ = clone_and_roll_bytes(torch_report, module)  # the heads merged back: a copy in PyTorch, a view in ONNX
            assert clones == 128 * 768 * 4 and (read, written) == (clones, clones), module
            special += 1
        elif a["type"] == "BertSelfAttention":  # SDPA decomposed: the scores are written and re-read
            assert b["bytes_read"] > a["bytes_read"] and b["bytes_written"] > a["bytes_written"], module
            special += 1
        else:
            assert (read, written) == (0, 0), (module, a["type"])
    assert special == (12 if name == "swin_t" else 2)
