"""Parity of OUR networks with NVIDIA's official ones, on official pickles and official outputs.

Reads the dumps written by bench/official/dump_networks.py (official code, official runtime) and,
in this ordinary process, loads each official pickle with OUR code and compares:
  * loading: `training.misc.load_pkl(networks.pkl)` and plain `pickle.load(networks_np1.pkl)` (the
    NumPy-1 byte layout of NVIDIA's pickles) give the same values;
  * variables: ordered names, shapes, trainable flags of G, D, Gs and Gs's components; every value;
    trainable totals and the `print_layers()` Total;
  * outputs: every (network, lod, dynamic kwargs) setting of the dump's grid -- Gs/G/D run(),
    Gs.components.mapping/.synthesis run() -- as max|ours - official| / max|official|;
  * gradients: d(sum(Gs(z) * P) / N)/d(trainables); D's d/d(trainables), d/d(images) and the R1
    term's gradient (second order), same relative measure over all variables together.
Requirement: relative error <= --tol (1e-4) everywhere. Gradients are piecewise smooth (leaky
ReLU), so a gradient row above --tol but within 2x of the official value's own movement under a
1e-6 relative input perturbation (recorded by the dump) is reported as WARN (ill-conditioned),
not FAIL. Exit status 1 if anything fails.

Usage:
  python bench/official/dump_networks.py --out DUMPS     # official side
  python bench/parity_official.py --dumps DUMPS [--configs sg32,...] [--json FILE]
"""

import argparse
import contextlib
import io
import json
import os
import pickle
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root

# --out / --dumps, or $STYLEGAN_OFFICIAL_DUMPS; else a directory in the system temp dir.
DEFAULT_DUMPS = os.environ.get("STYLEGAN_OFFICIAL_DUMPS") or os.path.join(tempfile.gettempdir(), "stylegan_official_dumps")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dumps", default=DEFAULT_DUMPS, help="output directory of bench/official/dump_networks.py")
    p.add_argument("--configs", default=None, help="comma-separated subset (default: every config in --dumps)")
    p.add_argument("--tol", type=float, default=1e-4, help="max allowed max|ours-official|/max|official|")
    p.add_argument("--no_grads", action="store_true", help="skip the gradient comparisons")
    p.add_argument("--json", default=None, help="write every measured row to this JSON file")
    p.add_argument("--verbose", action="store_true", help="print every setting, not only the summary")
    return p.parse_args()


def rel_err(ours, ref, np):
    ours = np.asarray(ours, np.float64)
    ref = np.asarray(ref, np.float64)
    if ours.shape != ref.shape:
        return float("inf"), "shape %s != official %s" % (ours.shape, ref.shape)
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    diff = float(np.max(np.abs(ours - ref))) if ref.size else 0.0
    return (diff / scale if scale > 0 else diff), None


def fmt_kwargs(lod, kwargs):
    items = ["lod=%g" % lod] if lod is not None else []
    items += ["%s=%s" % (k, v) for k, v in kwargs.items() if k != "randomize_noise"]
    return " ".join(items)


def layers_text(net):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        net.print_layers()
    return buf.getvalue()


def layers_total(text):
    for line in text.splitlines():
        if line.startswith("Total"):
            return int(line.split()[1])
    return None


def param_rows(text):
    """(layer name, params) of the print_layers rows that hold parameters, in order."""
    rows = [line.split() for line in text.splitlines()]
    return [(r[0], int(r[1])) for r in rows if len(r) >= 2 and r[1].isdigit() and r[0] != "Total"]


def read_layers_file(path):
    """layers.txt of the dump: '== <net>' headers followed by that network's print_layers() text."""
    out, key = {}, None
    for line in open(path):
        if line.startswith("== "):
            key = line[3:].strip()
            out[key] = ""
        elif key is not None:
            out[key] += line
    return out


class Report:
    def __init__(self, tol):
        self.tol = tol
        self.rows = []

    def add(self, config, net, kind, setting, err=None, note=None, ok=None, warn=False):
        """`warn`: a difference worth reporting that is not a numerical failure (e.g. variable order)."""
        if ok is None:
            ok = err is not None and err <= self.tol and note is None
        if warn and not ok:
            ok, note = True, "WARN: " + (note or "differs")
        row = dict(config=config, net=net, kind=kind, setting=setting, rel_err=err, note=note, ok=bool(ok))
        self.rows.append(row)
        return row


def check_config(cfg_dir, cfg, rep, args, np, tf, misc):
    meta = json.load(open(os.path.join(cfg_dir, "meta.json")))
    ref = np.load(os.path.join(cfg_dir, "reference.npz"))
    manifest = json.loads(str(ref["manifest"]))
    official_layers = read_layers_file(os.path.join(cfg_dir, "layers.txt"))

    # --- Loading.
    try:
        G, D, Gs = misc.load_pkl(os.path.join(cfg_dir, "networks.pkl"))
    except Exception as e:  # report and go on with the other configs
        rep.add(cfg, "-", "load", "misc.load_pkl(networks.pkl)", note="%s: %s" % (type(e).__name__, e), ok=False)
        traceback.print_exc()
        return
    rep.add(cfg, "-", "load", "misc.load_pkl(networks.pkl)", ok=True)
    nets = {"G": G, "D": D, "Gs": Gs}
    for comp_name, comp in Gs.components.items():
        nets["Gs." + comp_name] = comp
    try:
        with open(os.path.join(cfg_dir, "networks_np1.pkl"), "rb") as f:
            np1 = pickle.load(f)
        worst = 0.0
        for a, b in zip((G, D, Gs), np1):
            for name, var in a.vars.items():
                worst = max(worst, float(np.max(np.abs(np.asarray(var.numpy()) - b.get_var(name)))))
        rep.add(cfg, "-", "load", "pickle.load(networks_np1.pkl) == load_pkl(networks.pkl)", err=worst)
        del np1
    except Exception as e:
        rep.add(cfg, "-", "load", "pickle.load(networks_np1.pkl)", note="%s: %s" % (type(e).__name__, e), ok=False)

    # --- Variables: names, order, shapes, trainable flags, totals, values.
    for key, official in meta["vars"].items():
        net = nets.get(key)
        if net is None:
            rep.add(cfg, key, "vars", "network present", note="missing component", ok=False)
            continue
        ours = [dict(name=n, shape=[int(d) for d in v.shape], trainable=bool(v.trainable)) for n, v in net.vars.items()]
        off_names = [v["name"] for v in official]
        our_names = [v["name"] for v in ours]
        missing = sorted(set(off_names) - set(our_names))
        extra = sorted(set(our_names) - set(off_names))
        rep.add(cfg, key, "vars", "name set (%d vars)" % len(off_names), ok=not missing and not extra,
                note=("missing %s extra %s" % (missing[:6], extra[:6])) if missing or extra else None)
        first = next((i for i, (a, b) in enumerate(zip(our_names + [None] * len(off_names), off_names)) if a != b), None)
        rep.add(cfg, key, "vars", "name order", ok=first is None, warn=True,
                note=None if first is None else "order differs from the official template order from index %d "
                "(%s, official %s)" % (first, our_names[first] if first < len(our_names) else None, off_names[first]))
        off_by_name = {v["name"]: v for v in official}
        bad = [o["name"] for o in ours if o["name"] in off_by_name
               and (o["shape"] != off_by_name[o["name"]]["shape"] or o["trainable"] != off_by_name[o["name"]]["trainable"])]
        rep.add(cfg, key, "vars", "shapes + trainable flags", ok=not bad, note=("differ: %s" % bad[:6]) if bad else None)
        total = int(sum(np.prod(v.shape) for v in net.trainables.values()))
        want = meta["trainable_totals"][key]
        rep.add(cfg, key, "vars", "trainable total %d (official %d)" % (total, want), ok=total == want)
        try:
            text = layers_text(net)
            lt = layers_total(text)
            want = meta["print_layers_totals"][key]
            rep.add(cfg, key, "vars", "print_layers Total %s (official %d)" % (lt, want), ok=lt == want)
            ours_rows, off_rows = param_rows(text), param_rows(official_layers[key])
            first = next((i for i, (a, b) in enumerate(zip(ours_rows + [None] * len(off_rows), off_rows)) if a != b), None)
            rep.add(cfg, key, "vars", "print_layers rows with params (%d)" % len(off_rows), ok=first is None, warn=True,
                    note=None if first is None else "row %d: ours %s, official %s"
                    % (first, ours_rows[first] if first < len(ours_rows) else None, off_rows[first]))
        except Exception as e:
            rep.add(cfg, key, "vars", "print_layers()", note="%s: %s" % (type(e).__name__, e), ok=False)
    for key in ("G", "D", "Gs"):
        worst, worst_name = 0.0, None
        prefix = "var/%s/" % key
        for name in [k[len(prefix):] for k in ref.files if k.startswith(prefix)]:
            if name not in nets[key].vars:
                continue  # reported by the name-set check
            d = float(np.max(np.abs(nets[key].get_var(name) - ref[prefix + name]))) if ref[prefix + name].size else 0.0
            if d >= worst:
                worst, worst_name = d, name
        rep.add(cfg, key, "values", "loaded values == official (max abs diff, worst %s)" % worst_name, err=worst,
                ok=worst == 0.0)

    # --- Outputs.
    for e in manifest["outputs"]:
        net = nets[e["net"]]
        setting = fmt_kwargs(e["lod"], e["kwargs"])
        try:
            if e["lod"] is not None:
                net.set_var("lod", e["lod"])
            out = net.run(*[ref["in/" + i] for i in e["inputs"]], **e["kwargs"])
            err, note = rel_err(out, ref[e["key"]], np)
        except Exception as ex:
            err, note = None, "%s: %s" % (type(ex).__name__, str(ex).splitlines()[0] if str(ex) else "")
        row = rep.add(cfg, e["net"], "run", setting, err=err, note=note)
        if args.verbose or not row["ok"]:
            print("  %-6s %-12s %-4s %-80s %s" % (cfg, e["net"], "ok" if row["ok"] else "FAIL", setting,
                                                 note or "%.2e" % err), flush=True)

    # --- Gradients.
    if args.no_grads:
        return
    for e in manifest["grads"]:
        net = nets[e["net"]]
        setting = fmt_kwargs(e["lod"], e["kwargs"])
        try:
            net.set_var("lod", e["lod"])
            names = e["wrt"]
            variables = [net.trainables[n] for n in names]
            x = tf.constant(ref["in/" + e["inputs"][0]])
            lab = tf.constant(ref["in/" + e["inputs"][1]])
            proj = ref["in/" + e["proj"]]
            n = ref["in/labels"].shape[0]
            if e["net"] == "Gs":
                with tf.GradientTape() as tape:
                    img = net.get_output_for(x, lab, **e["kwargs"])
                    loss = tf.reduce_sum(img * proj) / n
                grads = {"out": (img, e["key"] + "/out"),
                         "d/dvars": (tape.gradient(loss, variables), [e["key"] + "/" + v for v in names])}
                del tape
            else:
                with tf.GradientTape(persistent=True) as outer:
                    with tf.GradientTape() as inner:
                        inner.watch(x)
                        scores = net.get_output_for(x, lab, **e["kwargs"])
                        loss = tf.reduce_sum(scores * proj) / n
                    gx = inner.gradient(loss, x)
                    r1 = tf.reduce_sum(tf.square(gx)) / n
                grads = {"out": (scores, e["key"] + "/out"), "d/dimages": (gx, e["key"] + "/dx"),
                         "r1": (r1, e["key"] + "/r1"),
                         "d/dvars": (outer.gradient(loss, variables), [e["key"] + "/" + v for v in names]),
                         "d(r1)/dvars": (outer.gradient(r1, variables), [e["key"] + "/r1/" + v for v in names])}
                del outer
            for what, (val, keys) in grads.items():
                if isinstance(keys, list):
                    # tf.gradients (official) gives zeros where GradientTape gives None (a variable the
                    # output does not depend on, e.g. an inactive ToRGB at lod 0): compare as zeros.
                    missing = [names[i] for i, g in enumerate(val) if g is None]
                    if missing:
                        nonzero = [m for m in missing if np.any(ref[keys[names.index(m)]])]
                        rep.add(cfg, e["net"], "grad-none", "%s %s" % (what, setting), ok=not nonzero, warn=not nonzero,
                                note="None gradient for %d variables (%s%s)%s" % (
                                    len(missing), ", ".join(missing[:3]), ", ..." if len(missing) > 3 else "",
                                    "; official gradient is NONZERO for %s" % nonzero[:3] if nonzero
                                    else "; official: exact zeros"))
                    val = [np.zeros(ref[k].shape, np.float32) if g is None else g for g, k in zip(val, keys)]
                    ours = np.concatenate([np.ravel(g) for g in val])
                    off = np.concatenate([np.ravel(ref[k]) for k in keys])
                    err, note = rel_err(ours, off, np)
                    per_var = sorted(((rel_err(g, ref[k], np)[0], nm) for g, k, nm in zip(val, keys, names)), reverse=True)
                    row = add_grad_row(rep, cfg, e, what, setting, err, note)
                    row["worst_var"] = "%s (%.2e of its own max)" % (per_var[0][1], per_var[0][0])
                else:
                    err, note = rel_err(val, ref[keys], np)
                    row = add_grad_row(rep, cfg, e, what, setting, err, note)
                if args.verbose or not row["ok"]:
                    print("  %-6s %-12s %-4s %-80s %s %s" % (cfg, e["net"], "ok" if row["ok"] else "FAIL",
                                                            row["setting"], note or "%.2e" % err,
                                                            row.get("worst_var", "")), flush=True)
        except Exception as ex:
            rep.add(cfg, e["net"], "grad", setting, note="%s: %s" % (type(ex).__name__, ex), ok=False)
            traceback.print_exc()


def add_grad_row(rep, cfg, e, what, setting, err, note):
    """A gradient that misses --tol but stays within 2x the official result's own movement under a
    1e-6 relative input perturbation (recorded by the dump: about the forward discrepancy of two
    float32 implementations) is ill-conditioned (leaky-ReLU kink, R1 through the mbstd sqrt), not
    wrong: WARN, not FAIL."""
    sens = e.get("sensitivity", {}).get(what)
    row = rep.add(cfg, e["net"], "grad", "%s %s" % (what, setting), err=err, note=note)
    if not row["ok"] and note is None and err is not None and sens is not None and err <= 2 * sens:
        row["ok"] = True
        row["note"] = ("WARN: %.1e > tol, but the official value itself moves by up to %.1e when its inputs "
                       "move by 1e-6 relative (ill-conditioned)" % (err, sens))
    row["official_sensitivity"] = sens
    return row


def summarize(rep):
    """One line per (config, net, kind): count, worst relative error and where."""
    groups = {}
    for r in rep.rows:
        groups.setdefault((r["config"], r["net"], r["kind"]), []).append(r)
    lines = ["| config | network | check | settings | failed | worst rel. err | worst setting |",
             "|---|---|---|---:|---:|---:|---|"]
    for (cfg, net, kind), rows in groups.items():
        errs = [r for r in rows if r["rel_err"] is not None]
        worst = max(errs, key=lambda r: r["rel_err"]) if errs else None
        failed = [r for r in rows if not r["ok"]]
        warned = [r for r in rows if r.get("note")]
        where = failed[0] if failed else warned[0] if warned else worst or rows[0]
        lines.append("| %s | %s | %s | %d | %d | %s | %s%s |" % (
            cfg, net, kind, len(rows), len(failed), "%.1e" % worst["rel_err"] if worst else "-",
            where["setting"], (" -- " + where["note"]) if where.get("note") else ""))
    return "\n".join(lines)


def compact_summary(rep):
    """One Markdown row per config: loading, variables, outputs, gradients (for BENCHMARKS.md)."""
    lines = ["| config | loads | variables (names, shapes, flags, totals) | outputs: settings, worst rel. err |"
             " gradients: quantities, worst rel. err | failed / warnings |", "|---|---|---|---|---|---|"]
    for cfg in dict.fromkeys(r["config"] for r in rep.rows):
        rows = [r for r in rep.rows if r["config"] == cfg]

        def part(kind):
            sel = [r for r in rows if r["kind"] == kind]
            errs = [r["rel_err"] for r in sel if r["rel_err"] is not None]
            if not sel:
                return "-"
            return "%d, %s" % (len(sel), ("%.1e" % max(errs)) if errs else "-")
        loads = [r for r in rows if r["kind"] == "load"]
        var_rows = [r for r in rows if r["kind"] in ("vars", "values")]
        failed = [r for r in rows if not r["ok"]]
        warns = sorted(set("GradientTape None where official tf.gradients gives zeros" if r["kind"] == "grad-none"
                           else r["setting"].split(" (")[0] for r in rows if r["ok"] and r.get("note")))
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            cfg, "ok" if all(r["ok"] for r in loads) else "FAIL",
            ("%d/%d ok" % (sum(r["ok"] and not r.get("note") for r in var_rows), len(var_rows))) if var_rows else "-",
            part("run"), part("grad"),
            "; ".join(["FAIL " + (r["setting"] + ": " + (r.get("note") or "")) for r in failed[:2]] +
                      ["warn: " + w for w in warns]) or "-"))
    return "\n".join(lines)


def main():
    args = parse_args()
    if not os.path.isdir(args.dumps):
        sys.exit("error: %s does not exist; run bench/official/dump_networks.py first" % args.dumps)
    configs = sorted(d for d in os.listdir(args.dumps) if os.path.isfile(os.path.join(args.dumps, d, "meta.json")))
    if args.configs:
        wanted = [c for c in args.configs.split(",") if c]
        unknown = [c for c in wanted if c not in configs]
        if unknown:
            sys.exit("error: no dump for %s in %s (have %s)" % (unknown, args.dumps, configs))
        configs = wanted

    import numpy as np
    import tensorflow as tf
    from training import misc  # ours

    rep = Report(args.tol)
    for cfg in configs:
        print("== %s" % cfg, flush=True)
        check_config(os.path.join(args.dumps, cfg), cfg, rep, args, np, tf, misc)
    print()
    print(summarize(rep))
    print()
    print(compact_summary(rep))
    failed = [r for r in rep.rows if not r["ok"]]
    measured = [r["rel_err"] for r in rep.rows if r["rel_err"] is not None and r["kind"] in ("run", "grad")]
    print("\n%d checks, %d failed; worst output/gradient relative error %.2e (tolerance %.0e)"
          % (len(rep.rows), len(failed), max(measured) if measured else float("nan"), args.tol))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(tol=args.tol, rows=rep.rows), f, indent=1)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
