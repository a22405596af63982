"""The quantization what-ifs and the --dtype int8 refusal at the command line (docs/quantized.md)."""

from __future__ import annotations

import json

from howfast import errors
from howfast.cli.app import main


def test_weight_dtype_int4_what_if_in_json(capsys):
    code = main(["analyze", "resnet18", "-i", "1x3x32x32", "--weight-dtype", "int4", "-f", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert data["what_if"] == {"weight_dtype": "int4", "act_dtype": None}
    assert data["totals"]["params"] == 11_689_512 and data["totals"]["param_bytes"] == 11_689_512 // 2
    assert any(note.startswith("what-if: weights at int4") for note in data["notes"])


def test_w8a8_what_if_table_says_so(capsys):
    code = main(["analyze", "resnet18", "-i", "1x3x32x32", "--weight-dtype", "int8", "--act-dtype", "int8", "--device", "t4"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "what-if: weights at int8 and activations at int8" in " ".join(out.split())
    assert "MACs by compute: int8" in out


def test_dtype_int8_explains_what_to_use(capsys):
    code = main(["analyze", "resnet18", "--dtype", "int8"])
    _, err = capsys.readouterr()
    assert code == errors.USAGE
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "--weight-dtype int8" in lines[0] and "torch.ao.quantization" in lines[0]


def test_unknown_weight_dtype_is_a_usage_error(capsys):
    code = main(["analyze", "resnet18", "--weight-dtype", "int3"])
    _, err = capsys.readouterr()
    assert code == errors.USAGE and "Traceback" not in err
