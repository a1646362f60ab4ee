"""What a run takes from a pretrained pickle, for fine-tuning: networks fitted to the dataset's labels,
and the variables that Freeze-D and Freeze-G keep fixed (used by the training loop)."""

import numpy as np

import dnnlib.tflib as tflib


class ConfigError(ValueError):
    """A setting that does not fit the networks or the dataset (found once they are loaded)."""


def frozen_D_vars(D, freezed):
    """Names of D's trainables that Freeze-D (Mo et al. 2020; stylegan2-ada's --freezed) keeps fixed: the
    `freezed` highest-resolution blocks, each its FromRGB and its convolutions ({res}x{res}/*,
    FromRGB_lod{k} for the k-th block from the top). The 4x4 block (with the output layer) always trains."""
    if not freezed:
        return set()
    res_log2 = int(np.log2(D.input_shapes[0][-1]))
    blocks = res_log2 - 2
    if freezed < 0 or freezed > blocks:
        raise ConfigError("--freezed %d: D of a %dx%d network has %d blocks above 4x4 that can be frozen" % (
            freezed, 2 ** res_log2, 2 ** res_log2, blocks))
    prefixes = []
    for k in range(freezed):
        res = 2 ** (res_log2 - k)
        prefixes += ["%dx%d/" % (res, res), "FromRGB_lod%d/" % k]
    return {name for name in D.trainables if name.startswith(tuple(prefixes))}


def frozen_G_vars(G, freezeg, freeze_mapping=False):
    """Names of G's trainables that Freeze-G (as FreezeG does it) keeps fixed: the mapping network with
    `freeze_mapping`, and the `freezeg` lowest-resolution synthesis blocks (4x4 first), each its layers and
    its ToRGB. The highest-resolution block always trains."""
    prefixes = ["G_mapping/"] if freeze_mapping else []
    if freezeg:
        res_log2 = int(np.log2(G.output_shape[-1]))
        if freezeg < 0 or freezeg > res_log2 - 2:
            raise ConfigError("--freezeg %d: G of a %dx%d network has %d blocks below its top one that can be frozen"
                              % (freezeg, 2 ** res_log2, 2 ** res_log2, res_log2 - 2))
        for k in range(freezeg):
            res = 4 << k
            prefixes += ["G_synthesis/%dx%d/" % (res, res), "G_synthesis/ToRGB_lod%d/" % (res_log2 - 2 - k)]
    return {name for name in G.trainables if name.startswith(tuple(prefixes))}


def fit_networks_to_dataset(G, D, Gs, training_set, source):
    """A pickle's (G, D, Gs) for `training_set`: as they are when their image and label shapes are the
    dataset's; for another label size (fine-tuning on a dataset with other classes, or none), new networks
    with the pickle's architecture and the dataset's label size, every variable copied by name where name
    and shape match (as stylegan2-ada's copy_params_and_buffers; dlatent_avg and Gs's averages included), the
    others at their initial values and listed, one line per network. Images of another resolution or channel
    count are refused (ConfigError naming both): no silent resize. Returns (G, D, Gs, adapted)."""
    want = list(training_set.shape)
    have = [int(d) for d in G.output_shape[1:]]
    if have != want:
        raise ConfigError("%s: the networks make %s images (channels x height x width), the dataset holds %s; "
                          "fine-tuning needs the same resolution and channels" % (
                              source, "x".join(map(str, have)), "x".join(map(str, want))))
    label_size = int(training_set.label_size)
    if int(G.input_shapes[1][1]) == label_size:
        return G, D, Gs, False
    nets = []
    for net in (G, D, Gs):
        new = tflib.Network(net.name, func_name=net.build_func_name, **dict(net.static_kwargs, label_size=label_size))
        skipped = []
        for name, var in new.vars.items():
            src = net.vars.get(name)
            if src is not None and tuple(src.shape) == tuple(var.shape):
                var.assign(src)
            else:
                skipped.append("%s %s" % (name, list(var.shape)))
        print("%s: %d of %d variables copied; initial values for %s" % (
            net.name, len(new.vars) - len(skipped), len(new.vars), ", ".join(skipped) or "none"))
        nets.append(new)
    return nets[0], nets[1], nets[2], True
