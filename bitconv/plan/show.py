"""Text rendering of a plan: per-layer table, averages, bit-operations."""
from __future__ import annotations

from .core import Plan, layer_bitops


def _wbits(lb) -> str:
    if lb.w_bits is None:
        return "-"
    if isinstance(lb.w_bits, tuple):
        lo, hi = min(lb.w_bits), max(lb.w_bits)
        return f"{lo}..{hi} avg {lb.w_bits_mean:.2f} (x{len(lb.w_bits)})" if lo != hi else f"{lo} (x{len(lb.w_bits)})"
    return str(lb.w_bits)


def _abits(lb) -> str:
    if lb.a_bits is None:
        return "-"
    s = str(lb.a_bits)
    if lb.a_encoding == "binary":
        s += " bin"
    elif lb.a_zero_point:
        s += f" zp{lb.a_zero_point}"
    return s


def _human(n) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


def format_table(plan: Plan, shapes=None) -> str:
    by, shapes = plan.resolve_by(None, shapes)  # once: the columns and the averages agree on it
    rows = []
    head = ["layer", "w_bits", "a_bits", "scales"]
    if shapes is not None:
        head += ["cout", "MACs", "BOPs"]
    head.append("note")
    for name, lb in plan.items():
        scales = []
        if lb.w_scale is not None:
            scales.append("w/ch" if isinstance(lb.w_scale, tuple) else "w")
        if lb.a_scale is not None:
            scales.append("a")
        row = [name, _wbits(lb), _abits(lb), ",".join(scales) or "-"]
        if shapes is not None:
            shp = shapes.get(name)
            if shp is None:
                row += ["?", "?", "?"]
            else:
                bops = layer_bitops(lb, shp) if lb.quantized and lb.a_bits is not None and lb.w_bits is not None else None
                row += [str(shp.cout), _human(shp.macs), _human(bops) if bops is not None else "-"]
        note = "" if lb.quantized else "NOT QUANTIZED"
        if lb.note:
            note = f"{note}: {lb.note}" if note else lb.note
        row.append(note)
        rows.append(row)
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) if rows else len(head[i]) for i in range(len(head))]
    lines = []
    src = plan.source or "(in memory)"
    lines.append(f"plan: {src}  format: {plan.format}  layers: {len(plan)} "
                 f"({len(plan.quantized_layers)} quantized, {len(plan.skipped)} kept in float)"
                 + (f"  model: {plan.model}" if plan.model else ""))
    fmt_row = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
    lines.append(fmt_row(head))
    lines.append(fmt_row(["-" * w for w in widths]))
    lines += [fmt_row(r) for r in rows]
    lines.append("")
    have_all = by == "macs"     # every quantized layer has a shape
    w = plan.avg_w_bits(by=by, shapes=shapes)
    a = plan.avg_a_bits(by=by, shapes=shapes)
    what = "MAC-weighted" if have_all else "each layer once; a kernel-wise layer counts its channel mean"
    lines.append(f"average weight bits: {w:.3f}  ({what})" if w is not None else "average weight bits: -")
    lines.append(f"average activation bits: {a:.3f}  ({what})" if a is not None else
                 "average activation bits: - (no layer has activation bits)")
    if have_all:
        pw = plan.avg_w_bits(by="params", shapes=shapes)
        lines.append(f"average weight bits by parameter count: {pw:.3f}")
        bops = plan.bitops(shapes=shapes)
        macs = sum(shapes[n].macs for n in plan.quantized_layers)
        if bops is not None:
            lines.append(f"total bit-operations: {bops} ({_human(bops)}; {_human(macs)} MACs, "
                         f"{bops / max(1, macs):.2f} bit-ops per MAC)")
        else:
            lines.append(f"total bit-operations: - (a layer has no activation bits); {_human(macs)} MACs")
    elif shapes is not None:
        missing = [n for n in plan.quantized_layers if n not in shapes]
        lines.append(f"bit-operations: - ({len(missing)} layer(s) not in the layer table, e.g. {missing[0]})")
    if plan.skipped:
        lines.append(f"kept in float (skipped by apply): {', '.join(plan.skipped)}")
    if plan.unmapped:
        lines.append(f"not mapped from the source ({len(plan.unmapped)}):")
        for k, r in plan.unmapped:
            lines.append(f"  {k}: {r}")
    return "\n".join(lines)
