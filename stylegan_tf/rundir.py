"""The run directory: its one writer (training) and one reader (resume, metrics, figures) agree here.

A run directory is `<result_dir>/<NNNNN>-<desc>` (the official naming) holding `network-snapshot-<kimg>.pkl`
files, optionally `network-final.pkl`, a `training-state-<kimg>.pkl` beside each (ours: optimizer,
position, random stream), the image grids `reals.png` and `fakes<kimg>.png`, `log.txt`, TensorBoard
event files, and its configuration: `config.json` (a dict with `dataset`, `train` and optionally
`data_dir`) and the official `config.txt` (lines `'dataset': {...},`). The locate functions are the
official `training/misc.py` helpers.
"""

import ast
import contextlib
import glob
import json
import os
import pprint
import re
import shutil

REALS_NAME = "reals.png"
FINAL_NAME = "network-final.pkl"


def snapshot_name(kimg):
    """`network-snapshot-<kimg, 6 digits>.pkl`."""
    return "network-snapshot-%06d.pkl" % int(kimg)


def fakes_name(kimg):
    """`fakes<kimg, 6 digits>.png`, the generated image grid of a snapshot."""
    return "fakes%06d.png" % int(kimg)


def state_path_for(pkl_path):
    """Training-state file saved beside a snapshot (optimizer, position, random stream)."""
    name = os.path.basename(pkl_path)
    m = re.match(r"network-snapshot-(\d+)\.pkl$", name)
    tag = m.group(1) if m else os.path.splitext(name)[0].replace("network-", "")
    return os.path.join(os.path.dirname(pkl_path), "training-state-%s.pkl" % tag)


def kimg_from_snapshot_name(pkl_path):
    """The kimg of `network-snapshot-<kimg>.pkl`, 0 for any other name."""
    m = re.match(r"network-snapshot-(\d+)\.pkl$", os.path.basename(pkl_path))
    return float(m.group(1)) if m else 0.0

# ----------------------------------------------------------------------------
# Writing.


def create_run_dir(result_dir, desc):
    """A new `<result_dir>/<NNNNN>-<desc>` with the next free run id (the official naming)."""
    os.makedirs(result_dir, exist_ok=True)
    while True:
        ids = [int(m.group(1)) for m in (re.match(r"^(\d+)-", d) for d in os.listdir(result_dir)) if m]
        run_dir = os.path.join(result_dir, "%05d-%s" % (max(ids, default=-1) + 1, desc))
        try:
            os.makedirs(run_dir)
            return run_dir
        except FileExistsError:
            continue


@contextlib.contextmanager
def removed_unless_used(run_dir, fresh=True):
    """Around the work in a new run directory: remove it again if the work leaves no network pickle in it
    (a run that fails or is stopped before its first snapshot leaves nothing behind)."""
    try:
        yield run_dir
    finally:
        if fresh and os.path.isdir(run_dir) and not glob.glob(os.path.join(run_dir, "network-*.pkl")):
            shutil.rmtree(run_dir, ignore_errors=True)


def write_config(run_dir, cfg):
    """config.txt (the official layout: one `'group': {...},` line per group) and config.json, atomically."""
    import dnnlib
    lines = ["%r: %s" % (k, pprint.pformat(dict(v) if isinstance(v, dict) else v, width=10 ** 6))
             for k, v in cfg.items()]
    dnnlib.util.write_text_atomic(os.path.join(run_dir, "config.txt"), "{" + ",\n ".join(lines) + "}\n")
    dnnlib.util.write_text_atomic(os.path.join(run_dir, "config.json"), json.dumps(cfg, indent=2, default=str) + "\n")

# ----------------------------------------------------------------------------
# Reading.


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
    final = [p for p in pkls if os.path.basename(p) == FINAL_NAME]
    pkls = [p for p in pkls if os.path.basename(p) != FINAL_NAME]
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


def locate_latest_snapshot(path):
    """For --resume: `path` if it is a file, else the run's `network-final.pkl` or newest snapshot."""
    if os.path.isfile(path):
        return path
    if not os.path.isdir(path):
        raise FileNotFoundError("--resume: no such snapshot or run directory: %s" % path)
    final = os.path.join(path, FINAL_NAME)
    if os.path.isfile(final):
        return final
    pkls = sorted(glob.glob(os.path.join(path, "network-snapshot-*.pkl")))
    if not pkls:
        raise FileNotFoundError("--resume: run directory %s holds no network-snapshot-*.pkl" % path)
    return pkls[-1]


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
