"""StyleGAN networks (G_style = G_mapping + G_synthesis, D_basic) as Keras models.

Each builder function (`G_style`, `G_mapping`, `G_synthesis`, `D_basic`) takes the official
keyword arguments with the official defaults and returns a Keras model; `dnnlib.tflib.Network`
wraps it with the official API. Keyword arguments that only change the computation
(`randomize_noise`, `structure`, `fused_scale`, `dtype`, `truncation_psi`, `is_training`, ...)
can also be given per call, as `Network.run()` / `get_output_for()` do in the official code.
"""

import numpy as np
import tensorflow as tf
import keras

import dnnlib
from dnnlib.tflib.network import register_build_func
from stylegan_tf import ops, rng
from stylegan_tf.growing import grow_discriminator, grow_generator
from stylegan_tf.layers import (ACTIVATIONS, Conv2d, Dense, Scope, SynthesisLayer, init_scope_lists, lerp,
                                minibatch_stddev, pixel_norm)


def nf_func(fmap_base, fmap_decay, fmap_max):
    """Number of feature maps at a stage, as the official `nf()`."""
    return lambda stage: min(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_max)


class NetworkModel(keras.Model, Scope):
    """Base of the network models: a Keras model that is also the root variable scope.

    Subclasses set `input_names`, `input_shapes`, `output_shapes` and keep their static
    configuration in `self.config`; call-time keyword arguments override it.
    """

    is_component = True

    def __init__(self, name, config):
        keras.Model.__init__(self, name=name, dtype="float32")
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        init_scope_lists(self)
        object.__setattr__(self, "config", dict(config))
        self.built = True

    def opts(self, kwargs):
        """Static configuration updated with call-time keyword arguments."""
        cfg = dnnlib.EasyDict(self.config)
        cfg.update(kwargs)
        return cfg

    def lod_variable(self):
        return self.variable("lod", [], keras.initializers.Zeros(), trainable=False, aggregation="only_first_replica")

    def get_config(self):
        """The constructor's keyword arguments (JSON-friendly): `keras.saving.save_model` stores them and
        `load_model` rebuilds the model with `from_config`, then loads the variables by layer path."""
        return _json_friendly(dict(self.config, name=self.name))

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _json_friendly(value):
    if isinstance(value, dict):
        return {k: _json_friendly(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_friendly(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def keras_serializable(cls):
    """Register a network model class with Keras (as 'stylegan_tf>ClassName') so that `.keras` files
    holding it load after `import stylegan_tf` (see stylegan_tf/__init__.py)."""
    return keras.saving.register_keras_serializable(package="stylegan_tf")(cls)


# ----------------------------------------------------------------------------
# Mapping network.


@keras_serializable
class GMapping(NetworkModel):
    """Mapping network z (+ label) -> w, optionally broadcast to [N, dlatent_broadcast, dlatent_size]."""

    def __init__(self, name="G_mapping", latent_size=512, label_size=0, dlatent_size=512, dlatent_broadcast=None,
                 mapping_layers=8, mapping_fmaps=512, mapping_lrmul=0.01, mapping_nonlinearity="lrelu",
                 use_wscale=True, normalize_latents=True, dtype="float32", **_kwargs):
        super().__init__(name, dict(latent_size=latent_size, label_size=label_size, dlatent_size=dlatent_size,
                                    dlatent_broadcast=dlatent_broadcast, mapping_layers=mapping_layers,
                                    mapping_fmaps=mapping_fmaps, mapping_lrmul=mapping_lrmul,
                                    mapping_nonlinearity=mapping_nonlinearity, use_wscale=use_wscale,
                                    normalize_latents=normalize_latents, dtype=dtype))
        act, gain = ACTIVATIONS[mapping_nonlinearity]
        self.label_concat = None
        if label_size:
            self.label_concat = self.child(Scope("LabelConcat"))
            self.label_weight = self.label_concat.variable("weight", [label_size, latent_size],
                                                           keras.initializers.RandomNormal(0.0, 1.0))
        self.dense_layers = []
        in_features = latent_size * 2 if label_size else latent_size
        for layer_idx in range(mapping_layers):
            fmaps = dlatent_size if layer_idx == mapping_layers - 1 else mapping_fmaps
            self.dense_layers.append(self.child(Dense("Dense%d" % layer_idx, in_features, fmaps, gain=gain,
                                                      use_wscale=use_wscale, lrmul=mapping_lrmul, act=act)))
            in_features = fmaps
        self.input_names = ["latents_in", "labels_in"]
        self.input_shapes = [[None, latent_size], [None, label_size]]
        self.output_shapes = [[None, dlatent_broadcast, dlatent_size] if dlatent_broadcast else [None, dlatent_size]]
        self.output_names = ["dlatents_out"]

    def call(self, latents_in, labels_in=None, **kwargs):
        cfg = self.opts(kwargs)
        x = tf.cast(latents_in, cfg.dtype)
        if self.label_concat is not None:
            y = tf.matmul(tf.cast(labels_in, cfg.dtype), tf.cast(self.label_weight, cfg.dtype))
            x = tf.concat([x, y], axis=1)
        if cfg.normalize_latents:
            x = pixel_norm(x)
        for layer in self.dense_layers:
            x = layer(x)
        if cfg.dlatent_broadcast is not None:
            x = tf.tile(x[:, np.newaxis], [1, cfg.dlatent_broadcast, 1])
        return x


# ----------------------------------------------------------------------------
# Synthesis network.


@keras_serializable
class GSynthesis(NetworkModel):
    """Synthesis network w -> image, with progressive growing over the `lod` variable."""

    def __init__(self, name="G_synthesis", dlatent_size=512, num_channels=3, resolution=1024, fmap_base=8192,
                 fmap_decay=1.0, fmap_max=512, use_styles=True, const_input_layer=True, use_noise=True,
                 randomize_noise=True, nonlinearity="lrelu", use_wscale=True, use_pixel_norm=False,
                 use_instance_norm=True, dtype="float32", fused_scale="auto", blur_filter=(1, 2, 1),
                 structure="auto", force_clean_graph=False, **_kwargs):
        resolution_log2 = int(np.log2(resolution))
        assert resolution == 2 ** resolution_log2 and resolution >= 4
        super().__init__(name, dict(dlatent_size=dlatent_size, num_channels=num_channels, resolution=resolution,
                                    fmap_base=fmap_base, fmap_decay=fmap_decay, fmap_max=fmap_max,
                                    use_styles=use_styles, const_input_layer=const_input_layer, use_noise=use_noise,
                                    randomize_noise=randomize_noise, nonlinearity=nonlinearity, use_wscale=use_wscale,
                                    use_pixel_norm=use_pixel_norm, use_instance_norm=use_instance_norm, dtype=dtype,
                                    fused_scale=fused_scale, blur_filter=blur_filter, structure=structure,
                                    force_clean_graph=force_clean_graph))
        nf = nf_func(fmap_base, fmap_decay, fmap_max)
        act, gain = ACTIVATIONS[nonlinearity]
        self.resolution_log2 = resolution_log2
        self.num_layers = resolution_log2 * 2 - 2
        num_styles = self.num_layers if use_styles else 1
        self.lod = self.lod_variable()
        self.noise_vars = []
        if use_noise:
            for layer_idx in range(self.num_layers):
                res = layer_idx // 2 + 2
                self.noise_vars.append(self.variable("noise%d" % layer_idx, [1, int(use_noise), 2 ** res, 2 ** res],
                                                     keras.initializers.RandomNormal(0.0, 1.0), trainable=False))
        common = dict(dlatent_size=dlatent_size, act=act, gain=gain, use_wscale=use_wscale, use_noise=use_noise,
                      use_pixel_norm=use_pixel_norm, use_instance_norm=use_instance_norm, use_styles=use_styles,
                      blur_filter=blur_filter, fused_scale=fused_scale)
        # blocks[res] = (first layer, second layer); torgb[res] = ToRGB for that resolution. Created in the
        # order of the official template graph; with a static structure='fixed' only ToRGB_lod0 exists.
        self.blocks = {}
        self.torgb = {}

        def add_torgb(res):
            if structure != "fixed" or res == resolution_log2:
                self.torgb[res] = self.child(Conv2d("ToRGB_lod%d" % (resolution_log2 - res), nf(res - 1),
                                                    num_channels, kernel=1, gain=1, use_wscale=use_wscale))
        scope = self.child(Scope("4x4"))
        if const_input_layer:
            first = scope.child(SynthesisLayer("Const", "const", None, nf(1), layer_idx=0, **common))
        else:
            first = scope.child(SynthesisLayer("Dense", "dense", dlatent_size, nf(1), layer_idx=0, **common))
        self.blocks[2] = (first, scope.child(SynthesisLayer("Conv", "conv", nf(1), nf(1), layer_idx=1, **common)))
        add_torgb(2)
        for res in range(3, resolution_log2 + 1):
            scope = self.child(Scope("%dx%d" % (2 ** res, 2 ** res)))
            self.blocks[res] = (
                scope.child(SynthesisLayer("Conv0_up", "conv_up", nf(res - 2), nf(res - 1), layer_idx=res * 2 - 4,
                                           **common)),
                scope.child(SynthesisLayer("Conv1", "conv", nf(res - 1), nf(res - 1), layer_idx=res * 2 - 3,
                                           **common)))
            add_torgb(res)
        self.input_names = ["dlatents_in"]
        self.input_shapes = [[None, num_styles, dlatent_size]]
        self.output_shapes = [[None, num_channels, resolution, resolution]]
        self.output_names = ["images_out"]

    def call(self, dlatents_in, lod_in=None, **kwargs):
        cfg = self.opts(kwargs)
        if cfg.get("is_template_graph"):
            cfg.force_clean_graph = True
        randomize_noise = False if cfg.force_clean_graph else cfg.randomize_noise
        structure = cfg.structure
        if structure == "auto":
            structure = "linear" if cfg.force_clean_graph else "recursive"
        dtype = cfg.dtype
        dlatents_in = tf.cast(dlatents_in, dtype)
        lod_in = tf.cast(self.lod if lod_in is None else lod_in, dtype)

        # `noise_inputs` (per call): one tensor per layer, [N or 1, 1, res, res], used instead of the stored
        # noise variables, implying randomize_noise=False (per-image noise, e.g. optimised by the projector).
        noise_inputs = cfg.get("noise_inputs")
        if noise_inputs is not None:
            randomize_noise = False

        def block(res, x):
            layers = self.blocks[res]
            for layer in layers:
                noise_var = self.noise_vars[layer.layer_idx] if self.noise_vars else None
                if noise_inputs is not None and noise_var is not None:
                    noise_var = noise_inputs[layer.layer_idx]
                x = layer(x, dlatents_in, noise_var=noise_var, randomize_noise=randomize_noise,
                          fused_scale=cfg.fused_scale, dtype=dtype)
            return x

        return grow_generator(block, lambda res, x: self.torgb[res](x), None, lod_in, self.resolution_log2,
                              structure, recursive_from=3, phase_lod=cfg.get("phase_lod"),
                              phase_native=cfg.get("phase_native", False),
                              phase_stable=cfg.get("phase_stable", False))


# ----------------------------------------------------------------------------
# Style-based generator.


G_STYLE_OWN_KWARGS = ("truncation_psi", "truncation_cutoff", "truncation_psi_val", "truncation_cutoff_val",
                      "dlatent_avg_beta", "style_mixing_prob", "is_training", "is_validation")


def truncate_dlatents(dlatents, dlatent_avg, psi, cutoff=None, num_layers=None):
    """The truncation trick in the graph, as G_style does it: w' = lerp(dlatent_avg, w, psi) on the layers
    with index < cutoff (all layers when cutoff is None), w elsewhere. `psi` may be a tensor.
    (`stylegan_tf.api.truncate` is the NumPy version for dlatents outside the graph.)"""
    num_layers = num_layers or int(dlatents.shape[1])
    layer_idx = np.arange(num_layers)[np.newaxis, :, np.newaxis]
    ones = np.ones(layer_idx.shape, dtype=np.float32)
    coefs = tf.cast(tf.where(layer_idx < (num_layers if cutoff is None else cutoff), psi * ones, ones), dlatents.dtype)
    return lerp(tf.cast(dlatent_avg, dlatents.dtype), dlatents, coefs)


@keras_serializable
class GStyle(NetworkModel):
    """G = mapping + synthesis, with W moving average, style mixing regularisation and truncation."""

    def __init__(self, mapping, synthesis, name="G", truncation_psi=0.7, truncation_cutoff=8,
                 truncation_psi_val=None, truncation_cutoff_val=None, dlatent_avg_beta=0.995, style_mixing_prob=0.9,
                 is_training=False, is_validation=False, **kwargs):
        super().__init__(name, dict(kwargs, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                                    truncation_psi_val=truncation_psi_val,
                                    truncation_cutoff_val=truncation_cutoff_val, dlatent_avg_beta=dlatent_avg_beta,
                                    style_mixing_prob=style_mixing_prob, is_training=is_training,
                                    is_validation=is_validation))
        self.mapping = self.child(mapping)
        self.synthesis = self.child(synthesis)
        self.num_layers = synthesis.input_shapes[0][1]
        dlatent_size = synthesis.input_shapes[0][2]
        self.lod = self.lod_variable()
        self.dlatent_avg = self.variable("dlatent_avg", [dlatent_size], keras.initializers.Zeros(), trainable=False,
                                         aggregation="mean")
        self.input_names = list(mapping.input_names)
        self.input_shapes = [list(s) for s in mapping.input_shapes]
        self.output_shapes = [list(s) for s in synthesis.output_shapes]
        self.output_names = ["images_out"]

    def get_config(self):
        config = super().get_config()
        config.update(mapping=keras.saving.serialize_keras_object(self.mapping),
                      synthesis=keras.saving.serialize_keras_object(self.synthesis))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        mapping = keras.saving.deserialize_keras_object(config.pop("mapping"))
        synthesis = keras.saving.deserialize_keras_object(config.pop("synthesis"))
        return cls(mapping, synthesis, **config)

    def call(self, latents_in, labels_in=None, **kwargs):
        cfg = self.opts(kwargs)
        is_training, is_validation = cfg.is_training, cfg.is_validation
        assert not (is_training and is_validation)
        psi, cutoff = cfg.truncation_psi, cfg.truncation_cutoff
        if is_validation:
            psi, cutoff = cfg.truncation_psi_val, cfg.truncation_cutoff_val
        if is_training or (psi is not None and not tf.is_tensor(psi) and psi == 1):
            psi = None
        if is_training or (cutoff is not None and not tf.is_tensor(cutoff) and cutoff <= 0):
            cutoff = None
        beta = cfg.dlatent_avg_beta
        if not is_training or (beta is not None and not tf.is_tensor(beta) and beta == 1):
            beta = None
        mixing_prob = cfg.style_mixing_prob
        if not is_training or (mixing_prob is not None and not tf.is_tensor(mixing_prob) and mixing_prob <= 0):
            mixing_prob = None

        component_kwargs = {k: v for k, v in kwargs.items() if k not in G_STYLE_OWN_KWARGS}
        dlatents = self.mapping(latents_in, labels_in, **component_kwargs)

        if beta is not None:
            batch_avg = tf.reduce_mean(tf.cast(dlatents[:, 0], tf.float32), axis=0)
            self.dlatent_avg.assign(lerp(batch_avg, self.dlatent_avg, beta))

        if mixing_prob is not None:
            latents2 = rng.normal(tf.shape(latents_in), batched=True)
            dlatents2 = self.mapping(latents2, labels_in, **component_kwargs)
            layer_idx = np.arange(self.num_layers)[np.newaxis, :, np.newaxis]
            cur_layers = self.num_layers - tf.cast(self.lod, tf.int32) * 2
            mixing_draw = rng.uniform([])
            mixing_layers = rng.uniform([], 1, cur_layers, dtype=tf.int32)
            mixing_cutoff = tf.where(mixing_draw < mixing_prob, mixing_layers, cur_layers)
            dlatents = tf.where(tf.broadcast_to(layer_idx < mixing_cutoff, tf.shape(dlatents)), dlatents, dlatents2)

        if psi is not None and cutoff is not None:
            dlatents = truncate_dlatents(dlatents, self.dlatent_avg, psi, cutoff, self.num_layers)

        self.synthesis.lod.assign(self.lod)
        return self.synthesis(dlatents, lod_in=self.lod, **component_kwargs)


# ----------------------------------------------------------------------------
# Discriminator.


@keras_serializable
class DBasic(NetworkModel):
    """StyleGAN discriminator (Progressive GAN's, with blur before downsampling convolutions)."""

    def __init__(self, name="D", num_channels=1, resolution=32, label_size=0, fmap_base=8192, fmap_decay=1.0,
                 fmap_max=512, nonlinearity="lrelu", use_wscale=True, mbstd_group_size=4, mbstd_num_features=1,
                 dtype="float32", fused_scale="auto", blur_filter=(1, 2, 1), structure="auto", **_kwargs):
        resolution_log2 = int(np.log2(resolution))
        assert resolution == 2 ** resolution_log2 and resolution >= 4
        super().__init__(name, dict(num_channels=num_channels, resolution=resolution, label_size=label_size,
                                    fmap_base=fmap_base, fmap_decay=fmap_decay, fmap_max=fmap_max,
                                    nonlinearity=nonlinearity, use_wscale=use_wscale,
                                    mbstd_group_size=mbstd_group_size, mbstd_num_features=mbstd_num_features,
                                    dtype=dtype, fused_scale=fused_scale, blur_filter=blur_filter,
                                    structure=structure))
        nf = nf_func(fmap_base, fmap_decay, fmap_max)
        act, gain = ACTIVATIONS[nonlinearity]
        self.resolution_log2 = resolution_log2
        self.lod = self.lod_variable()
        self.fromrgb = {}
        self.blocks = {}
        conv = dict(gain=gain, use_wscale=use_wscale, act=act)
        # Creation order follows the official template graph ('linear' structure).
        self.fromrgb[resolution_log2] = self.child(
            Conv2d("FromRGB_lod0", num_channels, nf(resolution_log2 - 1), kernel=1, **conv))
        for res in range(resolution_log2, 2, -1):
            scope = self.child(Scope("%dx%d" % (2 ** res, 2 ** res)))
            self.blocks[res] = [
                scope.child(Conv2d("Conv0", nf(res - 1), nf(res - 1), kernel=3, **conv)),
                scope.child(Conv2d("Conv1_down", nf(res - 1), nf(res - 2), kernel=3, resample="down",
                                   fused_scale=fused_scale, **conv))]
            if structure != "fixed":  # the official 'fixed' template has FromRGB_lod0 only
                self.fromrgb[res - 1] = self.child(
                    Conv2d("FromRGB_lod%d" % (resolution_log2 - res + 1), num_channels, nf(res - 2), kernel=1, **conv))
        scope = self.child(Scope("4x4"))
        mbstd_channels = mbstd_num_features if mbstd_group_size > 1 else 0
        self.blocks[2] = [
            scope.child(Conv2d("Conv", nf(1) + mbstd_channels, nf(1), kernel=3, **conv)),
            scope.child(Dense("Dense0", nf(1) * 16, nf(0), **conv)),
            scope.child(Dense("Dense1", nf(0), max(label_size, 1), gain=1, use_wscale=use_wscale))]
        self.blur_filter = list(blur_filter) if blur_filter else None
        self.input_names = ["images_in", "labels_in"]
        self.input_shapes = [[None, num_channels, resolution, resolution], [None, label_size]]
        self.output_shapes = [[None, 1]]
        self.output_names = ["scores_out"]

    def call(self, images_in, labels_in=None, **kwargs):
        cfg = self.opts(kwargs)
        structure = cfg.structure
        if structure == "auto":
            structure = "linear" if cfg.get("is_template_graph") else "recursive"
        dtype = cfg.dtype
        images_in = tf.cast(images_in, dtype)
        lod_in = tf.cast(self.lod, dtype)
        fused_scale = cfg.fused_scale

        def block(x, res):
            if res >= 3:
                conv0, conv1_down = self.blocks[res]
                x = conv0(x)
                if self.blur_filter:
                    x = ops.blur2d(x, self.blur_filter)
                return conv1_down(x, fused_scale=fused_scale)
            conv, dense0, dense1 = self.blocks[2]
            if cfg.mbstd_group_size > 1:
                x = minibatch_stddev(x, cfg.mbstd_group_size, cfg.mbstd_num_features)
            return dense1(dense0(conv(x)))

        scores_out = grow_discriminator(lambda x, res: self.fromrgb[res](x), block, images_in, lod_in,
                                        self.resolution_log2, structure, phase_lod=cfg.get("phase_lod"),
                                        phase_native=cfg.get("phase_native", False),
                                        phase_stable=cfg.get("phase_stable", False))

        if cfg.label_size:
            scores_out = tf.reduce_sum(scores_out * tf.cast(labels_in, dtype), axis=1, keepdims=True)
        return scores_out


# ----------------------------------------------------------------------------
# Builders with the official names and keyword arguments (used by dnnlib.tflib.Network).


def G_style(components=None, name="G", **kwargs):
    """Style-based generator; creates the `synthesis` and `mapping` component networks when missing."""
    from dnnlib.tflib.network import Network
    components = dnnlib.EasyDict() if components is None else components
    if "synthesis" not in components:
        components.synthesis = Network("G_synthesis", func_name=G_synthesis, **kwargs)
    num_layers = components.synthesis.input_shape[1]
    if "mapping" not in components:
        components.mapping = Network("G_mapping", func_name=G_mapping, dlatent_broadcast=num_layers, **kwargs)
    return GStyle(components.mapping.model, components.synthesis.model, name=name, **kwargs)


def G_mapping(name="G_mapping", **kwargs):
    """Mapping network (official `G_mapping` keyword arguments)."""
    return GMapping(name=name, **kwargs)


def G_synthesis(name="G_synthesis", **kwargs):
    """Synthesis network (official `G_synthesis` keyword arguments)."""
    return GSynthesis(name=name, **kwargs)


def D_basic(name="D", **kwargs):
    """Discriminator (official `D_basic` keyword arguments)."""
    return DBasic(name=name, **kwargs)


# The builders register under their official names (pickles and configs name them) and record the
# models whose keyword arguments they accept (train.py refuses override keys outside them).
for _builder, _models in ((G_style, (GStyle, GMapping, GSynthesis)), (G_mapping, (GMapping,)), (G_synthesis, (GSynthesis,)),
                          (D_basic, (DBasic,))):
    _builder.model_classes = _models
    register_build_func(_builder)
