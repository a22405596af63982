"""Zoo totals against published figures, and a 70B decoder against its hand formula."""

from __future__ import annotations

import pytest

import howfast
from tests.conftest import analyze_quiet

# Published multiply-accumulates at 224x224 (papers / torchvision model cards).
PUBLISHED_MACS = {
    "mobilenet_v1": 569e6,  # Howard et al. 2017, Table 8
    "mobilenet_v2": 300e6,  # Sandler et al. 2018, Table 3
    "vgg16": 15.5e9,  # torchvision: 15.47 GFLOPS (multiply-adds)
    "resnet18": 1.8e9,  # He et al. 2016, Table 1
    "resnet50": 4.1e9,  # torchvision: 4.09 GFLOPS (multiply-adds)
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_MACS))
def test_published_macs_within_one_percent(name):
    report = analyze_quiet(howfast.zoo.build(name, device="meta"), "1x3x224x224")
    assert report.totals.macs == pytest.approx(PUBLISHED_MACS[name], rel=0.01)
    assert report.coverage.share == 1.0


def _llama_matmul_macs(tokens: int, layers: int, d: int, heads: int, kv_heads: int, ffn: int, vocab: int) -> int:
    head_dim = d // heads
    projections = tokens * d * d * 2 + tokens * d * (kv_heads * head_dim) * 2  # q, o; k, v
    attention = heads * tokens * tokens * head_dim * 2  # Q K^T and P V over every query head
    mlp = tokens * d * ffn * 3  # gate, up, down
    return layers * (projections + attention + mlp) + tokens * d * vocab  # + lm_head


def test_llama2_70b_shape_on_meta_matches_the_hand_formula():
    model = howfast.zoo.build("llama2_70b", device="meta")
    report = analyze_quiet(model, "1x2048:int64")
    expected = _llama_matmul_macs(2048, 80, 8192, 64, 8, 28672, 32000)
    assert report.totals.macs == expected
    assert report.totals.params == 68_976_648_192
    assert report.totals.param_bytes == 68_976_648_192 * 4
