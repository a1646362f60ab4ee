"""Progressive GAN networks (G_paper, D_paper; Table 1 config A of the StyleGAN paper) as Keras models."""

import numpy as np
import tensorflow as tf

from dnnlib.tflib.network import register_build_func

from stylegan_tf import ops
from stylegan_tf.growing import grow_discriminator, grow_generator
from stylegan_tf.layers import Conv2d, Dense, Scope, WeightScope, leaky_relu, minibatch_stddev, pixel_norm
from stylegan_tf.networks_stylegan import NetworkModel, keras_serializable, nf_func


@keras_serializable
class GPaper(NetworkModel):
    """Progressive GAN generator: latent (+ label) -> 4x4 dense -> conv blocks, pixel norm after each layer."""

    def __init__(self, name="G", num_channels=1, resolution=32, label_size=0, fmap_base=8192, fmap_decay=1.0,
                 fmap_max=512, latent_size=None, normalize_latents=True, use_wscale=True, use_pixelnorm=True,
                 pixelnorm_epsilon=1e-8, use_leakyrelu=True, dtype="float32", fused_scale=True, structure=None,
                 **_kwargs):
        resolution_log2 = int(np.log2(resolution))
        assert resolution == 2 ** resolution_log2 and resolution >= 4
        nf = nf_func(fmap_base, fmap_decay, fmap_max)
        if latent_size is None:
            latent_size = nf(0)
        super().__init__(name, dict(num_channels=num_channels, resolution=resolution, label_size=label_size,
                                    fmap_base=fmap_base, fmap_decay=fmap_decay, fmap_max=fmap_max,
                                    latent_size=latent_size, normalize_latents=normalize_latents,
                                    use_wscale=use_wscale, use_pixelnorm=use_pixelnorm,
                                    pixelnorm_epsilon=pixelnorm_epsilon, use_leakyrelu=use_leakyrelu, dtype=dtype,
                                    fused_scale=fused_scale, structure=structure))
        self.resolution_log2 = resolution_log2
        self.act = leaky_relu if use_leakyrelu else tf.nn.relu
        self.lod = self.lod_variable()
        self.blocks = {}
        self.torgb = {}
        conv = dict(use_wscale=use_wscale, act=self.act)
        for res in range(2, resolution_log2 + 1):
            scope = self.child(Scope("%dx%d" % (2 ** res, 2 ** res)))
            if res == 2:
                # gain sqrt(2)/4 matches the original Theano implementation; bias after the reshape.
                dense = scope.child(WeightScope("Dense", [latent_size + label_size, nf(1) * 16], gain=np.sqrt(2) / 4,
                                                use_wscale=use_wscale, bias_size=nf(1)))
                self.blocks[2] = [dense, scope.child(Conv2d("Conv", nf(1), nf(1), 3, **conv))]
            elif fused_scale:
                self.blocks[res] = [scope.child(Conv2d("Conv0_up", nf(res - 2), nf(res - 1), 3, resample="up",
                                                       fused_scale=True, **conv)),
                                    scope.child(Conv2d("Conv1", nf(res - 1), nf(res - 1), 3, **conv))]
            else:
                self.blocks[res] = ["upscale2d", scope.child(Conv2d("Conv0", nf(res - 2), nf(res - 1), 3, **conv)),
                                    scope.child(Conv2d("Conv1", nf(res - 1), nf(res - 1), 3, **conv))]
            self.torgb[res] = self.child(Conv2d("ToRGB_lod%d" % (resolution_log2 - res), nf(res - 1), num_channels,
                                                kernel=1, gain=1, use_wscale=use_wscale))
        self.input_names = ["latents_in", "labels_in"]
        self.input_shapes = [[None, latent_size], [None, label_size]]
        self.output_shapes = [[None, num_channels, resolution, resolution]]
        self.output_names = ["images_out"]

    def call(self, latents_in, labels_in=None, **kwargs):
        cfg = self.opts(kwargs)
        structure = cfg.structure or ("linear" if cfg.get("is_template_graph") else "recursive")
        dtype = cfg.dtype
        pn = (lambda x: pixel_norm(x, cfg.pixelnorm_epsilon)) if cfg.use_pixelnorm else (lambda x: x)
        combo_in = tf.cast(tf.concat([latents_in, tf.cast(labels_in, latents_in.dtype)], axis=1), dtype)
        lod_in = tf.cast(self.lod, dtype)

        def block(res, x):
            if res == 2:
                dense, conv = self.blocks[2]
                if cfg.normalize_latents:
                    x = pixel_norm(x, cfg.pixelnorm_epsilon)
                x = tf.reshape(dense.dense(x), [-1, dense.bias.shape[0], 4, 4])
                x = pn(self.act(dense.apply_bias(x)))
                return pn(conv(x))
            for layer in self.blocks[res]:
                x = ops.upscale2d(x) if layer == "upscale2d" else pn(layer(x))
            return x

        return grow_generator(block, lambda res, x: self.torgb[res](x), combo_in, lod_in, self.resolution_log2,
                              structure, recursive_from=2, phase_lod=cfg.get("phase_lod"),
                              phase_native=cfg.get("phase_native", False),
                              phase_stable=cfg.get("phase_stable", False))


@keras_serializable
class DPaper(NetworkModel):
    """Progressive GAN discriminator (no blur, average-pool downsampling, minibatch stddev at 4x4)."""

    def __init__(self, name="D", num_channels=1, resolution=32, label_size=0, fmap_base=8192, fmap_decay=1.0,
                 fmap_max=512, use_wscale=True, mbstd_group_size=4, dtype="float32", fused_scale=True,
                 structure=None, **_kwargs):
        resolution_log2 = int(np.log2(resolution))
        assert resolution == 2 ** resolution_log2 and resolution >= 4
        super().__init__(name, dict(num_channels=num_channels, resolution=resolution, label_size=label_size,
                                    fmap_base=fmap_base, fmap_decay=fmap_decay, fmap_max=fmap_max,
                                    use_wscale=use_wscale, mbstd_group_size=mbstd_group_size, dtype=dtype,
                                    fused_scale=fused_scale, structure=structure))
        nf = nf_func(fmap_base, fmap_decay, fmap_max)
        self.resolution_log2 = resolution_log2
        self.lod = self.lod_variable()
        self.fromrgb = {}
        self.blocks = {}
        conv = dict(use_wscale=use_wscale, act=leaky_relu)
        self.fromrgb[resolution_log2] = self.child(
            Conv2d("FromRGB_lod0", num_channels, nf(resolution_log2 - 1), kernel=1, **conv))
        for res in range(resolution_log2, 2, -1):
            scope = self.child(Scope("%dx%d" % (2 ** res, 2 ** res)))
            conv0 = scope.child(Conv2d("Conv0", nf(res - 1), nf(res - 1), 3, **conv))
            if fused_scale:
                self.blocks[res] = [conv0, scope.child(Conv2d("Conv1_down", nf(res - 1), nf(res - 2), 3,
                                                              resample="down", fused_scale=True, **conv))]
            else:
                self.blocks[res] = [conv0, scope.child(Conv2d("Conv1", nf(res - 1), nf(res - 2), 3, **conv)),
                                    "downscale2d"]
            self.fromrgb[res - 1] = self.child(
                Conv2d("FromRGB_lod%d" % (resolution_log2 - res + 1), num_channels, nf(res - 2), kernel=1, **conv))
        scope = self.child(Scope("4x4"))
        mbstd_channels = 1 if mbstd_group_size > 1 else 0
        self.blocks[2] = [scope.child(Conv2d("Conv", nf(1) + mbstd_channels, nf(1), 3, **conv)),
                          scope.child(Dense("Dense0", nf(1) * 16, nf(0), **conv)),
                          scope.child(Dense("Dense1", nf(0), 1, gain=1, use_wscale=use_wscale))]
        self.input_names = ["images_in", "labels_in"]
        self.input_shapes = [[None, num_channels, resolution, resolution], [None, label_size]]
        self.output_shapes = [[None, 1]]
        self.output_names = ["scores_out"]

    def call(self, images_in, labels_in=None, **kwargs):
        cfg = self.opts(kwargs)
        structure = cfg.structure or ("linear" if cfg.get("is_template_graph") else "recursive")
        images_in = tf.cast(images_in, cfg.dtype)
        lod_in = tf.cast(self.lod, cfg.dtype)

        def block(x, res):
            if res == 2:
                conv, dense0, dense1 = self.blocks[2]
                if cfg.mbstd_group_size > 1:
                    x = minibatch_stddev(x, cfg.mbstd_group_size)
                return dense1(dense0(conv(x)))
            for layer in self.blocks[res]:
                x = ops.downscale2d(x) if layer == "downscale2d" else layer(x)
            return x

        return grow_discriminator(lambda x, res: self.fromrgb[res](x), block, images_in, lod_in,
                                  self.resolution_log2, structure, phase_lod=cfg.get("phase_lod"),
                                  phase_native=cfg.get("phase_native", False),
                                  phase_stable=cfg.get("phase_stable", False))


def G_paper(name="G", **kwargs):
    """Progressive GAN generator (official `G_paper` keyword arguments)."""
    return GPaper(name=name, **kwargs)


def D_paper(name="D", **kwargs):
    """Progressive GAN discriminator (official `D_paper` keyword arguments)."""
    return DPaper(name=name, **kwargs)


# The builders register under their official names (pickles and configs name them) and record the
# models whose keyword arguments they accept (train.py refuses override keys outside them).
for _builder, _models in ((G_paper, (GPaper,)), (D_paper, (DPaper,))):
    _builder.model_classes = _models
    register_build_func(_builder)
