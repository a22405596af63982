"""Energy estimate from op counts and bytes moved per memory level (an estimate, not a measurement).

Per op (``docs/roofline.md``, "Energy"); measured energy (RAPL counters) is ``bench/rapl.py``::

    multiplies   = MACs                         priced as 32-bit float multiplies
    adds         = max(FLOPs - MACs, 0)          every other FLOP priced as a 32-bit float add
    DRAM bytes   = compulsory bytes             each distinct tensor to/from main memory once
    on-chip bytes = max(write-up bytes - compulsory bytes, 0)
                                                the write-up model's re-reads (a conv input read once
                                                per MAC...) served from caches/SRAM
    energy = multiplies x E_mult + adds x E_add + on-chip bytes / 4 x E_sram + DRAM bytes / 4 x E_dram

The default table is Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC
2014, 45 nm: 32-bit float multiply 3.7 pJ, add 0.9 pJ, 32-bit read from an 8 KB SRAM 5 pJ, 32-bit
DRAM access 640 pJ. A profile overrides any of them in its ``[energy]`` table. Real devices are
on other nodes (energy per op falls with the node; DRAM energy far less), caches catch much of the
"DRAM" traffic between ops, and static power is ignored: read the figures as an order-of-magnitude
estimate that shows where energy goes (DRAM dominates), not as a measurement. With ``power.tdp_w``
in the profile, ``tdp_bound_j`` = TDP x predicted latency is an upper bound from the other side.
"""

from __future__ import annotations

from howfast.graph.records import ancestors
from howfast.hardware.profiles import HardwareProfile, get_profile
from howfast.report.report import PhaseCosts
from howfast.report.sections import Energy, EnergyFigure, EnergyLayer, EnergyParts

HOROWITZ_2014_45NM: dict[str, tuple[float, str]] = {
    "fp32_mult_pj": (3.7, "Horowitz, ISSCC 2014, 45 nm: 32-bit float multiply 3.7 pJ"),
    "fp32_add_pj": (0.9, "Horowitz, ISSCC 2014, 45 nm: 32-bit float add 0.9 pJ"),
    "sram_read_32b_pj": (5.0, "Horowitz, ISSCC 2014, 45 nm: 32-bit read from an 8 KB SRAM 5 pJ"),
    "dram_32b_pj": (640.0, "Horowitz, ISSCC 2014, 45 nm: 32-bit DRAM access 640 pJ"),
}

LABEL = ("estimate from op counts and bytes moved (multiplies = MACs, other FLOPs as adds; DRAM = compulsory bytes, "
         "on-chip = write-up minus compulsory bytes); not a measurement")


def energy_table(profile: HardwareProfile | None = None) -> dict[str, EnergyFigure]:
    """pJ per operation/access with sources: the profile's ``[energy]`` figures over Horowitz 2014."""
    table = {k: EnergyFigure(v, src) for k, (v, src) in HOROWITZ_2014_45NM.items()}
    if profile is not None:
        for key, fig in profile.energy.items():
            table[key] = EnergyFigure(fig.value, fig.source)
    return table


def op_energy(macs: float, flops: float, writeup_bytes: float, compulsory_bytes: float, table: dict[str, EnergyFigure]) -> EnergyParts:
    """Joules of one op (or a sum of ops), split into compute, on-chip (SRAM) and DRAM."""
    pj = {k: v.value for k, v in table.items()}
    mults = max(macs, 0)
    adds = max(flops - macs, 0)
    compute = (mults * pj["fp32_mult_pj"] + adds * pj["fp32_add_pj"]) * 1e-12
    sram = max(writeup_bytes - compulsory_bytes, 0) / 4 * pj["sram_read_32b_pj"] * 1e-12
    dram = max(compulsory_bytes, 0) / 4 * pj["dram_32b_pj"] * 1e-12
    return EnergyParts(compute_j=compute, sram_j=sram, dram_j=dram, total_j=compute + sram + dram)


def _energy(sums: list[float], table: dict[str, EnergyFigure]) -> EnergyParts:
    """``op_energy`` of summed (MACs, FLOPs, write-up bytes, compulsory bytes)."""
    return op_energy(sums[0], sums[1], sums[2], sums[3], table)


def estimate_energy(costs: PhaseCosts, device: str | HardwareProfile | None = None,
                    predicted_latency_s: float | None = None) -> Energy:
    """Energy per layer and in total for one run of ``costs`` (a report or one of its phases): an estimate.

    ``device`` (a profile or its name) only supplies ``[energy]`` overrides and ``power.tdp_w``; with
    a TDP and ``predicted_latency_s`` (the roofline's), TDP x latency is given as an upper bound.
    """
    profile = get_profile(device) if device is not None else None
    table = energy_table(profile)
    sums: dict[str, list[float]] = {}
    for row in costs.ops:
        if not (row.flops or row.macs or row.memory):
            continue
        wu = float(row.traffic("writeup").get("bytes", 0))
        cp = float(row.traffic("compulsory").get("bytes", 0))
        if not (row.flops or wu or cp):
            continue
        for path in ancestors(row.module):
            s = sums.setdefault(path, [0.0, 0.0, 0.0, 0.0])
            s[0] += row.macs
            s[1] += row.flops
            s[2] += wu
            s[3] += cp
    zero = [0.0, 0.0, 0.0, 0.0]
    layers = [EnergyLayer(name=layer.name, type=layer.type, depth=layer.depth, energy=_energy(sums.get(layer.name, zero), table))
              for layer in costs.layers]
    default = all(table[k].value == v for k, (v, _) in HOROWITZ_2014_45NM.items())
    result = Energy(label=LABEL,
                    table_name="Horowitz ISSCC 2014, 45 nm" if default else f"{profile.name if profile else 'custom'} energy table",
                    table=table, total=_energy(sums.get("", zero), table), layers=layers)
    if profile is not None and profile.tdp_w is not None and predicted_latency_s:
        result.tdp_w = profile.tdp_w.value
        result.tdp_bound_j = profile.tdp_w.value * predicted_latency_s
    return result
