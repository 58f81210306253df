"""Outputs of `bitconv bench`: the terminal table, --json, --csv and --plot."""
from __future__ import annotations

import csv
import json
from typing import List

import numpy as np

SHORT = {"numpy": "np32", "ort-fp32": "ort32", "ort-int8": "ort8", "torch-fp32": "pt32", "torch-int8": "pt8",
         "numba": "numba"}


def _fmt_ms(st: dict) -> str:
    med = st["median_s"] * 1e3
    half_iqr = (st["q3_s"] - st["q1_s"]) * 1e3 / 2
    return f"{med:.3f}±{half_iqr:.3f}" if med < 100 else f"{med:.1f}±{half_iqr:.1f}"


def _fmt_x(d: dict) -> str:
    if not d:
        return "-"
    if "speedup" in d:
        return f"{d['speedup']:.2f}x"
    return "skip"


def probe_source(p: dict) -> str:
    """Which probe the ceilings come from, e.g. "probe avx512, 0.2 s, cached in file, measured <date>"."""
    out = f"probe {p['isa']}"
    if p.get("probe_seconds"):
        out += f", {p['probe_seconds']:g} s"
    if p.get("cached"):
        out += f", cached in {p['cached']}, measured {p.get('measured_at', '?')}"
    else:
        out += ", measured now"
    return out


_KERNEL_SHORT = {"bit-serial": "bs", "int8": "i8", "depthwise": "dw"}


def _kernel_short(kernel: str) -> str:
    return "+".join(_KERNEL_SHORT.get(k, k) for k in kernel.split("+")) if kernel else "-"


# Further bitconv timings a run may hold: (column, key of the layer row).
EXTRA_TIMINGS = (("float ms", "bitconv_float_nchw"), ("codes ms", "bitconv_codes_out"))


def format_table(res: dict) -> str:
    names = list(res["comparators"])
    head = ["layer", "shape", "bits", "kern", "MMAC", "ms (±IQR/2)", "GOPS", "eff%"]
    extra = [(col, key) for col, key in EXTRA_TIMINGS if any(key in r for r in res["layers"])]
    head += [col for col, _ in extra]
    head += [f"x{SHORT.get(n, n)}" for n in names]
    rows = []
    for r in res["layers"]:
        row = [r["name"], r["shape"], r["bits"], _kernel_short(r.get("kernel", "")), f"{r['macs'] / 1e6:.1f}",
               _fmt_ms(r["bitconv"]),
               f"{r['bitconv']['gops']:.1f}", f"{r['efficiency_pct']:.1f}"]
        row += [f"{r[key]['median_s'] * 1e3:.3f}" if key in r else "-" for _, key in extra]
        row += [_fmt_x(r["comparators"].get(n)) for n in names]
        rows.append(row)
    def total_row(label, t, layers):
        row = [label, f"{len(layers)} layers", "", "", f"{t['macs'] / 1e6:.1f}", f"{t['median_s'] * 1e3:.3f}",
               f"{t['gops']:.1f}", f"{t['efficiency_pct']:.1f}"]
        row += [f"{sum(r[key]['median_s'] for r in layers) * 1e3:.3f}" for _, key in extra]
        for n in names:
            c = t["comparators"].get(n)
            row.append("-" if not c else f"{c['speedup']:.2f}x" + ("" if c["complete"] else "~"))
        return row

    t = res["total"]
    trows = [total_row("TOTAL", t, res["layers"])]
    low = res.get("total_low_bit")
    if low and any(r["marked"] for r in res["layers"]):
        trows.append(total_row("TOTAL <8 bit", low, [r for r in res["layers"] if not r["marked"]]))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *trows, *rows)]
    right = set(range(4, len(head)))

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in
                         enumerate(zip(cells, widths)))

    m = res["machine"]
    p = res["probe"]
    out = [f"bitconv bench: suite {res['suite']}, {res['plan']}; {m['cpu_model']}, isa {m['isa']}, "
           f"{m['threads']} thread(s), batch {res['config']['batch']}, median of {res['config']['repeat']}",
           f"ceiling: {p['binary_macs_per_second'] / 1e9:,.0f} G binary MAC/s per core ({probe_source(p)})"
           + (f"; int8 {p['int8_macs_per_second'] / 1e9:,.0f} G MAC/s per core ({p['int8_instruction']})"
              if p.get("int8_macs_per_second") else ""),
           "", line(head), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    out += [line(["-" * w for w in widths])] + [line(r) for r in trows] + [""]
    out.append("GOPS = 2 x MACs / median time; eff% = MACs/s x w_bits x a_bits / popcount ceiling of the cores "
               "used; xNAME = NAME's median / bitconv's median (>1: bitconv faster)")
    out.append("kern = kernels run: bs bit-serial, i8 int8 dot product (VPDPBUSD, SDOT; where faster than w x a plane pairs; eff% "
               "may exceed 100), dw depthwise")
    legend = ", ".join(f"{SHORT.get(n, n)} = {res['comparators'][n]}" for n in names)
    if legend:
        out.append(legend)
    if any(r["marked"] for r in res["layers"]):
        out.append("* layer the plan keeps at 8 bits or leaves unquantized: run at 8x8 bits, left out of "
                   "TOTAL <8 bit")
    if any(not c["complete"] for c in t["comparators"].values()):
        out.append("~ total over the layers the comparator ran (it skipped some)")
    skipped_layers = {}
    for r in res["layers"]:
        for n, c in r["comparators"].items():
            if "skipped" in c:
                skipped_layers.setdefault(n, []).append(f"{r['name']} ({c['skipped']})")
    for n, lst in skipped_layers.items():
        out.append(f"{n} skipped " + (f"{len(lst)} layers, e.g. {lst[0]}" if len(lst) > 2 else "; ".join(lst)))
    for note in res["notes"]:
        out.append(f"note: {note}")
    if any("kernelwise" in r for r in res["layers"]):
        out.append("")
        out.append(format_kernelwise(res["layers"]))
    if res.get("sweep"):
        out.append("")
        out.append(format_sweep(res["sweep"]))
    return "\n".join(out)


def format_kernelwise(rows) -> str:
    kw0 = next(r["kernelwise"] for r in rows if "kernelwise" in r)
    mix = ",".join(str(b) for b in kw0["mix"])
    lines = [f"kernel-wise: weight bits {mix} on equal parts of the output channels, {kw0['a_bits']}-bit "
             f"activations; ms, and x the channel-weighted average of the uniform-bit times (median of "
             f"{kw0['rounds']} alternating rounds)"]
    bits = list(kw0["uniform_s"])
    table = [["layer", *(f"{b}-bit" for b in bits), "average", "contiguous", "interleaved"]]
    for r in rows:
        kw = r.get("kernelwise")
        if kw is None:
            continue
        table.append([r["name"], *(f"{kw['uniform_s'][b] * 1e3:.3f}" for b in bits), f"{kw['average_s'] * 1e3:.3f}",
                      *(f"{kw[k]['median_s'] * 1e3:.3f} ({kw[k]['ratio']:.2f}x)" for k in ("contiguous", "interleaved"))])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)


def format_sweep(sw: dict) -> str:
    lines = [f"sweep on {sw['name']} ({sw['layer']['cin']}>{sw['layer']['cout']} {sw['layer']['kh']}x"
             f"{sw['layer']['kw']} @{sw['layer']['h']}): "
             + (f"speed-up over {sw['int8_comparator']} ({sw['int8_median_s'] * 1e3:.3f} ms)"
                if sw["int8_comparator"] else "bitconv ms (no int8 comparator available)")]
    lines.append("w\\a " + "".join(f"{a:>8d}" for a in range(1, 9)))
    for w in range(8):
        if sw["int8_comparator"]:
            cells = "".join(f"{sw['speedup_over_int8'][w][a]:>7.2f}x" for a in range(8))
        else:
            cells = "".join(f"{sw['median_s'][w][a] * 1e3:>8.3f}" for a in range(8))
        lines.append(f"{w + 1:>3d} {cells}")
    return "\n".join(lines)


def write_json(res: dict, path: str) -> None:
    with open(path, "w") as f:
        json.dump(res, f, indent=1, default=lambda o: o.item() if isinstance(o, np.generic) else str(o))
        f.write("\n")


CSV_STAT = ("median_s", "q1_s", "q3_s", "min_s", "max_s", "n", "gops")
CSV_LAYER = ("cin", "cout", "kh", "kw", "stride", "padding", "groups", "h", "w")   # the layer's own fields


def write_csv(res: dict, path: str) -> None:
    names = list(res["comparators"])
    m = res["machine"]
    head = ["suite", "plan", "layer", *CSV_LAYER, "batch", "bits", "w_bits_avg", "a_bits", "marked", "kernel", "macs"]
    head += [f"bitconv_{s}" for s in CSV_STAT] + ["efficiency_pct", "ceiling_macs_per_s"]
    for n in names:
        head += [f"{n}_{s}" for s in CSV_STAT] + [f"{n}_speedup", f"{n}_skipped"]
    head += ["cpu_model", "isa", "threads", "date", "bitconv_version"]
    machine = dict(cpu_model=m["cpu_model"], isa=m["isa"], threads=m["threads"], date=m["date"],
                   bitconv_version=m["versions"]["bitconv"])
    rows: List[dict] = []  # every row by column name; absent columns stay empty
    for r in res["layers"]:
        lay = r["layer"]
        row = dict(suite=res["suite"], plan=res["plan"], layer=r["name"], batch=res["config"]["batch"],
                   bits=r["bits"], w_bits_avg=f"{r['w_bits_avg']:.4g}", a_bits=r["a_bits"], marked=r["marked"],
                   kernel=r.get("kernel", ""), macs=r["macs"], efficiency_pct=r["efficiency_pct"],
                   ceiling_macs_per_s=r["ceiling_macs_per_s"], **machine)
        row.update({k: lay[k] for k in CSV_LAYER})
        row.update({f"bitconv_{s}": r["bitconv"][s] for s in CSV_STAT})
        for n in names:
            c = r["comparators"].get(n, {})
            row.update({f"{n}_{s}": c.get(s, "") for s in CSV_STAT})
            row.update({f"{n}_speedup": c.get("speedup", ""), f"{n}_skipped": c.get("skipped", "")})
        rows.append(row)
    t = res["total"]
    total = dict(suite=res["suite"], plan=res["plan"], layer="TOTAL", macs=t["macs"], bitconv_median_s=t["median_s"],
                 bitconv_gops=t["gops"], efficiency_pct=t["efficiency_pct"], **machine)
    for n in names:
        c = t["comparators"].get(n, {})
        total[f"{n}_median_s"], total[f"{n}_speedup"] = c.get("median_s", ""), c.get("speedup", "")
    rows.append(total)
    with open(path, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=head, restval="")
        wr.writeheader()
        wr.writerows(rows)


def write_plot(res: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in res["comparators"] if any("speedup" in r["comparators"].get(n, {}) for r in res["layers"])]
    layers = res["layers"]
    sweep = res.get("sweep")
    panels = 1 + (1 if sweep else 0)
    fig_w = max(8.0, 0.45 * len(layers) + 3)
    fig, axes = plt.subplots(panels, 1, figsize=(fig_w, 5.2 * panels + (1.0 if sweep else 0)), squeeze=False)
    ax = axes[0][0]
    x = np.arange(len(layers))
    width = 0.8 / max(1, len(names))
    for i, n in enumerate(names):
        vals = [r["comparators"].get(n, {}).get("speedup", np.nan) for r in layers]
        ax.bar(x + (i - (len(names) - 1) / 2) * width, vals, width, label=f"vs {res['comparators'][n]}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels([f"{r['name']}\n{r['bits']}" for r in layers], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("speed-up of bitconv (x, log scale)")
    m = res["machine"]
    ax.set_title(f"bitconv {res['suite']} ({res['plan']}), {m['threads']} thread(s), {m['isa']}: "
                 f"total eff {res['total']['efficiency_pct']:.0f}% of popcount ceiling", fontsize=9)
    ax.grid(axis="y", which="both", alpha=0.3)
    if names:
        ax.legend(fontsize=7, loc="best")
    if sweep:
        ax2 = axes[1][0]
        if sweep["int8_comparator"]:
            data = np.array([[v if v is not None else np.nan for v in row] for row in sweep["speedup_over_int8"]])
            title = f"speed-up over {sweep['int8_comparator']} on {sweep['name']} (>1: bitconv faster)"
            from matplotlib.colors import TwoSlopeNorm

            lo, hi = np.nanmin(data), np.nanmax(data)
            norm = TwoSlopeNorm(vcenter=1.0, vmin=min(lo, 0.99), vmax=max(hi, 1.01))
            im = ax2.imshow(data, origin="lower", cmap="RdYlGn", norm=norm)
        else:
            data = np.array(sweep["median_s"]) * 1e3
            title = f"bitconv ms on {sweep['name']} (no int8 comparator)"
            im = ax2.imshow(data, origin="lower", cmap="viridis")
        fmt = "{:.2f}"
        for w in range(8):
            for a in range(8):
                ax2.text(a, w, fmt.format(data[w, a]), ha="center", va="center", fontsize=7)
        ax2.set_xticks(range(8))
        ax2.set_xticklabels(range(1, 9))
        ax2.set_yticks(range(8))
        ax2.set_yticklabels(range(1, 9))
        ax2.set_xlabel("activation bits")
        ax2.set_ylabel("weight bits")
        ax2.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
