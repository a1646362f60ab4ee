"""Locating training runs, their network snapshots and their training configuration
(the official `training/misc.py` helpers, kept here so that metrics do not depend on the trainer).

A run directory is `<result_dir>/<NNNNN>-<desc>` holding `network-snapshot-<kimg>.pkl` files,
optionally `network-final.pkl`, and its configuration: `config.json` (a dict with `dataset`,
`train` and optionally `data_dir`) or the official `config.txt` (lines `'dataset': {...},`).
"""

import ast
import glob
import json
import os
import re


def locate_run_dir(run_id_or_run_dir, result_dir="results"):
    """Run directory from a path or a run id (`5`, `'00005'`, `'00005-sgan-ffhq-1gpu'`) under result_dir."""
    if isinstance(run_id_or_run_dir, str) and os.path.isdir(run_id_or_run_dir):
        return run_id_or_run_dir
    direct = os.path.join(result_dir, str(run_id_or_run_dir))
    if os.path.isdir(direct):
        return direct
    try:
        run_id = int(str(run_id_or_run_dir).split("-")[0])
    except ValueError:
        raise IOError("cannot locate run directory %r (not a directory, not a run id)" % (run_id_or_run_dir,)) from None
    pattern = re.compile(r"^0*%d-" % run_id)
    run_dirs = [d for d in sorted(glob.glob(os.path.join(result_dir, "*")))
                if pattern.match(os.path.basename(d)) and os.path.isdir(d)]
    if len(run_dirs) == 1:
        return run_dirs[0]
    raise IOError("cannot locate run %r under %s (%d matches)" % (run_id_or_run_dir, result_dir, len(run_dirs)))


def list_network_pkls(run_id_or_run_dir, include_final=True, result_dir="results"):
    """Snapshots of a run in order; network-final.pkl last (if include_final)."""
    run_dir = locate_run_dir(run_id_or_run_dir, result_dir)
    pkls = sorted(glob.glob(os.path.join(run_dir, "network-*.pkl")))
    final = [p for p in pkls if os.path.basename(p) == "network-final.pkl"]
    pkls = [p for p in pkls if os.path.basename(p) != "network-final.pkl"]
    return pkls + (final if include_final else [])


def locate_network_pkl(run_id_or_run_dir_or_network_pkl, snapshot_or_network_pkl=None, result_dir="results"):
    """A pickle path: given directly, or the run's snapshot number `snapshot` (kimg), or its latest."""
    for candidate in [snapshot_or_network_pkl, run_id_or_run_dir_or_network_pkl]:
        if isinstance(candidate, str) and os.path.isfile(candidate):
            return candidate
    pkls = list_network_pkls(run_id_or_run_dir_or_network_pkl, result_dir=result_dir)
    if pkls and snapshot_or_network_pkl is None:
        return pkls[-1]
    for pkl in pkls:
        name = os.path.splitext(os.path.basename(pkl))[0]
        try:
            if int(name.split("-")[-1]) == int(snapshot_or_network_pkl):
                return pkl
        except (ValueError, TypeError):
            pass
    raise IOError("cannot locate network pickle for snapshot %r in %s" % (snapshot_or_network_pkl, run_id_or_run_dir_or_network_pkl))


def get_id_string_for_network_pkl(network_pkl):
    p = network_pkl.replace(".pkl", "").replace("\\", "/").split("/")
    return "-".join(p[max(len(p) - 2, 0):])


def parse_config_for_previous_run(run_id_or_run_dir, result_dir="results"):
    """{'dataset': {...}, 'train': {...}, ...} of a run, from config.json or the official config.txt.

    config.txt lines are parsed with ast.literal_eval (never executed); legacy dataset options are
    translated as the official code does.
    """
    run_dir = locate_run_dir(run_id_or_run_dir, result_dir)
    cfg = {"dataset": {}, "train": {}}
    json_path = os.path.join(run_dir, "config.json")
    txt_path = os.path.join(run_dir, "config.txt")
    if os.path.isfile(json_path):
        with open(json_path) as f:
            data = json.load(f)
        for key, value in data.items():
            cfg[key] = dict(value) if isinstance(value, dict) else value
    elif os.path.isfile(txt_path):
        with open(txt_path) as f:
            for line in f:
                m = re.match(r"^{?\s*'(\w+)':\s*({.*)(},|}})$", line.strip())
                if m and m.group(1) in ("dataset", "train"):
                    try:
                        cfg[m.group(1)] = dict(ast.literal_eval(m.group(2) + "}"))
                    except (ValueError, SyntaxError):
                        if m.group(1) == "dataset":
                            raise ValueError("%s: cannot parse the 'dataset' entry" % txt_path) from None
    else:
        raise IOError("run directory %s has no config.json or config.txt" % run_dir)
    ds = cfg["dataset"]
    if "file_pattern" in ds:
        ds["tfrecord_dir"] = ds.pop("file_pattern").replace("-r??.tfrecords", "")
    if "mirror_augment" in ds:
        cfg["train"]["mirror_augment"] = ds.pop("mirror_augment")
    if "max_labels" in ds:
        v = ds.pop("max_labels")
        ds["max_label_size"] = 0 if v is None else ("full" if v == "all" else v)
    ds.pop("max_images", None)
    return cfg
