"""The built-in zoo models: published parameter counts, meta builds, and small CPU forwards."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from howfast.zoo import ZOO, build, entries

# Published parameter counts (torchvision, Keras, timm, Hugging Face, Llama-2 paper shapes).
PUBLISHED_PARAMS = {
    "mobilenet_v1": 4_231_976,
    "mobilenet_v2": 3_504_872,
    "vgg16": 138_357_544,
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "vit_tiny": 5_717_416,
    "gpt2": 124_439_808,
    "llama2_70b": 68_976_648_192,
}

ALL_MODELS = ["mobilenet_v1", "mobilenet_v2", "vgg16", "resnet18", "resnet50", "vit_tiny", "gpt2", "llama",
              "llama2_70b"]


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def make_input(spec: str) -> torch.Tensor:
    """A meta tensor for ``"1x3x224x224"`` (float32) or ``"1x128:int64"`` (token ids)."""
    shape_text, _, dtype_text = spec.partition(":")
    shape = tuple(int(s) for s in shape_text.split("x"))
    dtype = getattr(torch, dtype_text) if dtype_text else torch.float32
    return torch.empty(shape, dtype=dtype, device="meta")


def forward(name: str, x: torch.Tensor, **options: Any) -> torch.Tensor:
    model = build(name, options, device=x.device)
    with torch.no_grad():
        return model(x)


def test_every_model_is_registered_with_a_description() -> None:
    names = [e.name for e in entries()]
    assert set(ALL_MODELS) <= set(names)
    for entry in entries():
        assert entry.description and entry.default_input


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_published_parameter_counts(name: str) -> None:
    assert n_params(build(name, device="meta")) == PUBLISHED_PARAMS[name]


@pytest.mark.parametrize("name", [n for n in ALL_MODELS if n != "llama2_70b"])
def test_meta_forward_with_default_input(name: str) -> None:
    model = build(name, device="meta")
    assert all(p.device.type == "meta" for p in model.parameters())
    x = make_input(ZOO[name].default_input)
    with torch.no_grad():
        out = model(x)
    assert out.device.type == "meta"
    if x.dtype == torch.int64:
        assert out.shape[:2] == x.shape
    else:
        assert out.shape == (1, 1000)


def test_llama2_70b_meta_forward_short_sequence() -> None:
    out = forward("llama2_70b", make_input("1x16:int64"), layers=2)
    assert out.shape == (1, 16, 32000)


def test_default_option_values_match_the_factories() -> None:
    for entry in entries():
        model_default = build(entry.name, {o.name: o.default for o in entry.options}, device="meta")
        assert n_params(model_default) == n_params(build(entry.name, device="meta")), entry.name


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2", "resnet18"])
def test_small_cpu_forward_cnn(name: str) -> None:
    out = forward(name, torch.randn(1, 3, 64, 64), num_classes=10)
    assert out.shape == (1, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize("attention", ["sdpa", "mha"])
def test_vit_cpu_forward(attention: str) -> None:
    options = dict(img_size=32, patch=16, depth=2, num_classes=10, attention=attention)
    out = forward("vit_tiny", torch.randn(2, 3, 32, 32), **options)
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_vit_mha_has_same_parameter_count_and_names() -> None:
    model = build("vit_tiny", {"attention": "mha"}, device="meta")
    assert n_params(model) == PUBLISHED_PARAMS["vit_tiny"]
    assert isinstance(model.get_submodule("blocks.0.attn"), nn.MultiheadAttention)
    sdpa = build("vit_tiny", device="meta")
    for path in ("patch_embed.proj", "blocks.11.attn.qkv", "blocks.0.attn.proj", "blocks.0.mlp.fc1", "norm", "head"):
        sdpa.get_submodule(path)


def test_gpt2_cpu_forward_and_tied_head() -> None:
    model = build("gpt2", {"layers": 1})
    assert model.lm_head.weight is model.wte.weight
    ids = torch.randint(0, 50257, (1, 8))
    with torch.no_grad():
        out = model(ids)
    assert out.shape == (1, 8, 50257) and torch.isfinite(out).all()


def test_gpt2_is_causal() -> None:
    model = build("gpt2", {"layers": 1, "d_model": 64, "heads": 4, "vocab": 100, "n_positions": 16})
    ids = torch.randint(0, 100, (1, 8))
    changed = ids.clone()
    changed[0, -1] = (ids[0, -1] + 1) % 100
    with torch.no_grad():
        assert torch.allclose(model(ids)[:, :-1], model(changed)[:, :-1], atol=1e-5)


def test_llama_cpu_forward() -> None:
    out = forward("llama", torch.randint(0, 32000, (1, 8)))
    assert out.shape == (1, 8, 32000) and torch.isfinite(out).all()


def test_llama_grouped_query_attention_cpu() -> None:
    options = dict(layers=1, d_model=64, heads=8, kv_heads=2, ffn=128, vocab=100)
    model = build("llama", options)
    assert model.layers[0].self_attn.k_proj.out_features == 16
    with torch.no_grad():
        out = model(torch.randint(0, 100, (2, 8)))
    assert out.shape == (2, 8, 100) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2"])
@pytest.mark.parametrize(("hw", "symmetric", "keras"), [((224, 224), (7, 7), (7, 7)), ((126, 224), (4, 7), (3, 7))])
def test_keras_padding_shapes(name: str, hw, symmetric, keras) -> None:
    # Bottom/right-only padding shrinks odd sizes: 126 -> 63 -> 31 -> 15 -> 7 -> 3 (vs 32, 16, 8, 4).
    x = torch.empty(1, 3, *hw, device="meta")
    shapes = {k: build(name, {"keras_padding": k}, device="meta").features(x).shape[-2:] for k in (False, True)}
    assert tuple(shapes[False]) == symmetric and tuple(shapes[True]) == keras


def test_keras_padding_pads_bottom_right_on_even_sizes() -> None:
    model = build("mobilenet_v1", {"keras_padding": True})
    pad = model.features.conv1.pad
    assert isinstance(pad, nn.ZeroPad2d) and pad.padding == (0, 1, 0, 1)
    assert model.features.conv1.conv.padding == (0, 0)
    out = pad(torch.ones(1, 1, 4, 4))
    assert out.shape == (1, 1, 5, 5) and out[..., 0, :].sum() > 0 and out[..., -1, :].sum() == 0
    assert build("mobilenet_v1").features.conv1.conv.padding == (1, 1)


def test_keras_names_allow_truncation() -> None:
    v1 = build("mobilenet_v1", device="meta")
    for path in ("features.conv1", "features.conv_dw_1", "features.conv_pw_13", "avgpool", "dropout", "classifier"):
        v1.get_submodule(path)
    v2 = build("mobilenet_v2", device="meta")
    names = list(dict(v2.features.named_children()))
    assert names == ["conv1", "expanded_conv", *(f"expanded_conv_{i}" for i in range(1, 17)), "conv_last"]
    assert v2.features.expanded_conv.expand is None  # t=1: no expansion conv
    for block in ("expanded_conv_1.expand", "expanded_conv_1.depthwise", "expanded_conv_16.project"):
        v2.features.get_submodule(block)


def test_resnet_names() -> None:
    model = build("resnet50", device="meta")
    for path in ("conv1", "bn1", "maxpool", "layer1.0.downsample", "layer4.2.conv3", "layer4.2.bn3", "fc"):
        model.get_submodule(path)
    assert model.layer2[0].conv2.stride == (2, 2) and model.layer2[0].conv1.stride == (1, 1)


def test_width_multiplier() -> None:
    assert n_params(build("mobilenet_v1", {"width": 0.5}, device="meta")) < PUBLISHED_PARAMS["mobilenet_v1"]
    v2 = build("mobilenet_v2", {"width": 1.4}, device="meta")
    assert v2.classifier.in_features == 1792
