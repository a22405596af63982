"""The command line as a user meets it: formats, model forms, and one-line errors with exit codes."""

from __future__ import annotations

import csv
import io
import json
import textwrap

import pytest

from howfast import errors
from howfast.cli.app import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, expected_code: int, fragment: str) -> None:
    assert code == expected_code, err
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("howfast: error: "), err
    assert fragment in lines[0], lines[0]


def test_table_output_has_tree_totals_and_conventions(capsys):
    code, out, _ = run(capsys, "analyze", "mobilenet_v2", "--device", "meta", "--depth", "1", "--conventions")
    assert code == 0
    assert "features" in out and "classifier" in out
    assert "300.77M" in out  # MACs
    assert "conventions:" in out and "2n (FLOPs = 2 x MACs)" in out  # in full with --conventions (one line without)
    assert "coverage: 205/205" not in out or "100.0%" in out


def test_json_has_schema_version_and_required_keys(capsys):
    code, out, _ = run(capsys, "analyze", "resnet18", "--device", "meta", "-f", "json")
    assert code == 0
    data = json.loads(out)
    assert data["schema_version"] == "1.2"
    for key in ("params", "param_bytes", "macs", "flops", "mem_accesses", "bytes_read", "bytes_written",
                "activation_elements", "peak_activation_bytes"):
        assert isinstance(data["totals"][key], int), key
    assert data["totals"]["params"] == 11_689_512
    assert {"model", "inputs", "conventions", "layers", "uncounted_ops"} <= data.keys()
    layer = data["layers"][1]
    for key in ("name", "type", "macs", "flops", "mem_accesses", "bytes_read", "bytes_written", "params"):
        assert key in layer
    assert data["uncounted_ops"] == []
    assert data["conventions"]["flops"] == "2mac"


def test_csv_and_markdown(capsys, tmp_path):
    target = tmp_path / "out" / "r.csv"
    code, _, err = run(capsys, "analyze", "resnet18", "--device", "meta", "-f", "csv", "-o", str(target))
    assert code == 0 and "wrote" in err
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    _, out, _ = run(capsys, "analyze", "resnet18", "--device", "meta", "-f", "json")
    data = json.loads(out)
    assert rows[0]["name"] == "" and int(rows[0]["macs"]) == data["totals"]["macs"]
    assert [r["name"] for r in rows] == [layer["name"] for layer in data["layers"]]
    code, out, _ = run(capsys, "analyze", "resnet18", "--device", "meta", "-f", "md", "--depth", "1")
    assert code == 0 and out.startswith("# howfast report") and "| Layer |" in out


def test_exact_flops_convention_from_the_cli(capsys):
    _, default, _ = run(capsys, "analyze", "vgg16", "--device", "meta", "-f", "json")
    _, exact, _ = run(capsys, "analyze", "vgg16", "--device", "meta", "-f", "json", "--flops", "exact", "--no-bias")
    d, e = json.loads(default)["totals"], json.loads(exact)["totals"]
    assert d["macs"] == e["macs"]
    assert e["flops"] < d["flops"]


def test_zoo_options_and_listing(capsys):
    code, out, _ = run(capsys, "analyze", "mobilenet_v2:width=1.4", "--device", "meta", "-f", "json")
    assert code == 0 and json.loads(out)["totals"]["params"] > 3_504_872
    code, out, _ = run(capsys, "zoo", "--json")
    names = {row["name"] for row in json.loads(out)}
    assert {"mobilenet_v1", "mobilenet_v2", "vgg16", "resnet18", "resnet50", "vit_tiny", "gpt2"} <= names


def test_factory_from_file_and_module(capsys, tmp_path):
    source = tmp_path / "mymodel.py"
    source.write_text(textwrap.dedent("""
        import torch.nn as nn
        def make(width=4):
            return nn.Sequential(nn.Linear(8, width), nn.ReLU())
    """))
    code, out, _ = run(capsys, "analyze", f"{source}:make:width=16", "-i", "2x8", "-f", "json")
    assert code == 0 and json.loads(out)["totals"]["macs"] == 2 * 8 * 16
    code, out, _ = run(capsys, "analyze", "torch.nn:Identity", "-i", "2x8", "-f", "json")
    assert code == 0 and json.loads(out)["totals"]["macs"] == 0


def test_unknown_model_lists_the_zoo(capsys):
    code, _, err = run(capsys, "analyze", "mobilenet_v3")
    assert_one_line_error(code, err, errors.MODEL_LOAD, "mobilenet_v2")


def test_file_without_the_factory_lists_what_exists(capsys, tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import torch.nn as nn\ndef build():\n    return nn.ReLU()\n")
    code, _, err = run(capsys, "analyze", f"{source}:make", "-i", "1x2")
    assert_one_line_error(code, err, errors.MODEL_LOAD, "build")


def test_missing_file_and_pickles_are_refused(capsys, tmp_path):
    code, _, err = run(capsys, "analyze", str(tmp_path / "nope.py") + ":make", "-i", "1x2")
    assert_one_line_error(code, err, errors.MODEL_LOAD, "no such file")
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"not really")
    code, _, err = run(capsys, "analyze", str(weights), "-i", "1x2")
    assert_one_line_error(code, err, errors.MODEL_LOAD, "never unpickles")


@pytest.mark.parametrize("spec", ["1x3x224", "axb", "1x0x3", "1x3:float99", ""])
def test_malformed_input(capsys, spec):
    code, _, err = run(capsys, "analyze", "resnet18", "--device", "meta", "-i", spec)
    assert_one_line_error(code, err, errors.BAD_INPUT, "")


def test_shape_the_model_rejects_names_module_and_shapes(capsys):
    code, _, err = run(capsys, "analyze", "resnet18", "-i", "1x4x32x32")
    assert_one_line_error(code, err, errors.BAD_INPUT, "conv1 (Conv2d)")
    assert "1x4x32x32" in err


def test_until_unknown_layer_lists_nearest(capsys):
    code, _, err = run(capsys, "analyze", "resnet18", "--device", "meta", "--until", "layer9")
    assert_one_line_error(code, err, errors.BAD_INPUT, "nearest")


def test_strict_fails_on_uncounted_op(capsys, tmp_path):
    source = tmp_path / "s.py"
    source.write_text("import torch, torch.nn as nn\nclass S(nn.Module):\n    def forward(self, x):\n        return torch.special.bessel_j0(x)\ndef make():\n    return S()\n")
    code, out, err = run(capsys, "analyze", f"{source}:make", "-i", "2x3")
    assert code == 0 and "warning: 1 op(s) have no cost formula" in err and "NOT COUNTED: aten.special_bessel_j0.default x1" in out
    code, _, err = run(capsys, "analyze", f"{source}:make", "-i", "2x3", "--strict")
    assert_one_line_error(code, err, errors.UNCOUNTED, "aten.special_bessel_j0.default x1")


def test_bad_option_values_are_usage_errors(capsys):
    code, _, err = run(capsys, "analyze", "resnet18", "-f", "xml")
    assert code == errors.USAGE and "Traceback" not in err
    code, _, err = run(capsys, "analyze", "resnet18", "--device", "cuda")
    assert code in (errors.DEVICE, 0)


def test_debug_shows_traceback(capsys):
    code, _, err = run(capsys, "--debug", "analyze", "nope_model")
    assert code == errors.MODEL_LOAD and "Traceback" in err


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and "howfast" in out


def test_batch_option_scales_peak_activation_memory(capsys):
    _, one, _ = run(capsys, "analyze", "resnet18", "--device", "meta", "-f", "json", "-i", "1x3x64x64")
    _, eight, _ = run(capsys, "analyze", "resnet18", "--device", "meta", "-f", "json", "-i", "1x3x64x64", "--batch", "8")
    assert json.loads(eight)["inputs"][0]["shape"] == [8, 3, 64, 64]
    assert json.loads(eight)["totals"]["peak_activation_bytes"] == 8 * json.loads(one)["totals"]["peak_activation_bytes"]
    code, _, err = run(capsys, "analyze", "resnet18", "--device", "meta", "--batch", "0")
    assert_one_line_error(code, err, errors.USAGE, "--batch")


def test_fold_and_compare_commands(capsys):
    code, out, _ = run(capsys, "fold", "resnet18", "-i", "1x3x32x32", "-f", "json")
    data = json.loads(out)
    assert code == 0 and len(data["folded"]) == 20 and data["max_relative_difference"] < 1e-4
    assert data["before"]["params"] - data["after"]["params"] == data["params_removed"] - data["params_added"]
    code, _, err = run(capsys, "fold", "resnet18", "--train", "-i", "1x3x32x32")
    assert_one_line_error(code, err, errors.USAGE, "training mode")
    code, out, _ = run(capsys, "compare", "mobilenet_v1", "mobilenet_v2", "--device", "meta", "--features", "-f", "json")
    data = json.loads(out)
    assert code == 0 and [r["truncated_at"] for r in data["comparison"]] == ["features.conv_pw_11", "features.expanded_conv_12"]
    assert data["comparison"][0]["macs_ratio"] == 1.0 and data["explanation"]
    code, _, err = run(capsys, "compare", "resnet18")
    assert_one_line_error(code, err, errors.USAGE, "at least two")


def test_compare_with_bench_adds_latency_fps_and_ratios(capsys):
    code, out, err = run(capsys, "compare", "mobilenet_v2", "resnet18", "--bench", "--runs", "3", "-i", "1x3x32x32", "-f", "json")
    assert code == 0, err
    rows = json.loads(out)["comparison"]
    assert all(r["latency_s"] > 0 and r["fps"] == pytest.approx(1 / r["latency_s"]) for r in rows)
    assert rows[0]["latency_s_ratio"] == 1.0 and rows[1]["latency_s_ratio"] == pytest.approx(rows[1]["latency_s"] / rows[0]["latency_s"])
    code, _, err = run(capsys, "compare", "mobilenet_v2", "resnet18", "--bench", "--device", "meta")
    assert_one_line_error(code, err, errors.USAGE, "meta")


def test_output_file_is_replaced_whole_with_its_permissions(tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text("old")
    out.chmod(0o640)
    code = main(["analyze", "resnet18", "--device", "meta", "-f", "json", "-o", str(out)])
    assert code == 0 and json.loads(out.read_text())["model"]["name"] == "resnet18"
    assert out.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left behind


def test_an_integer_dtype_is_refused_in_one_line(capsys):
    code = main(["analyze", "resnet18", "--device", "meta", "--dtype", "int8"])
    err = capsys.readouterr().err
    assert code == errors.USAGE and "not a floating-point dtype" in err and "internal error" not in err
    assert len(err.strip().splitlines()) == 1
