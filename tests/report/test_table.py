"""The terminal table's heaviest layers: a layer repeated in identical blocks is one row, summed over
its copies. Figures by hand: ``Linear(4, 4)`` on one row is 16 MACs, ``Linear(4, 2)`` 8."""

from __future__ import annotations

from torch import nn

import howfast


class Blocks(nn.Module):
    def __init__(self, widths: list[int]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(4, w), nn.Linear(w, 4)) for w in widths)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def heaviest(report) -> list[list[str]]:
    text = report.render("table", width=160)
    section = text.split("heaviest layers")[1].split("\n\n")[0].splitlines()
    return [line.split() for line in section[3:]]


def test_identical_repeated_layers_are_one_row_with_their_sum():
    report = howfast.analyze(Blocks([4, 4, 4]), "1x4")  # 3 blocks x 2 x 16 MACs + 8 = 104
    rows = heaviest(report)
    assert rows[0][:4] == ["blocks.0-2.0", "(x3)", "48", "46.2%"]  # 3 x 16 of 104
    assert rows[1][:4] == ["blocks.0-2.1", "(x3)", "48", "46.2%"]
    assert rows[2][:3] == ["head", "8", "7.7%"]
    assert "repeated layers summed" in report.render("table", width=160)


def test_copies_that_are_not_neighbours_are_listed_and_different_ones_kept_apart():
    # blocks 0 and 2 are Linear(4, 4) twice (16 + 16 MACs each); block 1 is Linear(4, 8), Linear(8, 4): 32 + 32
    report = howfast.analyze(Blocks([4, 8, 4]), "1x4")  # 2 x 32 + 2 x 2 x 16 + 8 = 136 MACs
    rows = heaviest(report)
    assert {tuple(row[:2]) for row in rows[:4]} == {("blocks.{0,2}.0", "(x2)"), ("blocks.{0,2}.1", "(x2)"),
                                                    ("blocks.1.0", "32"), ("blocks.1.1", "32")}
    assert [row[2] if row[1] == "(x2)" else row[1] for row in rows[:4]] == ["32"] * 4  # 2 x 16, or 32 alone
    assert rows[4][:3] == ["head", "8", "5.9%"]  # 8 of 136
