"""Layers of StyleGAN and Progressive GAN as Keras layers, numerically as the official TF1 code.

Every layer is a `Scope`: a Keras layer standing for one TF1 variable scope of the official
networks, so its variables and child layers get the official relative names
(`4x4/Conv/StyleMod/weight`, ...). Variables are created in `__init__` (shapes follow from the
static configuration, as in the official template graph), weights are stored in TF layout
([kh, kw, in, out] / [in, out]) and scaled at run time for the equalized learning rate.
"""

import numpy as np
import tensorflow as tf
import keras

from stylegan_tf import ops, rng

# ----------------------------------------------------------------------------
# Stateless activation-level functions.


def lerp(a, b, t):
    """Linear interpolation a + (b - a) * t."""
    return a + (b - a) * t


def lerp_clip(a, b, t):
    """Linear interpolation with t clipped to [0, 1]."""
    return a + (b - a) * tf.clip_by_value(t, 0.0, 1.0)


def leaky_relu(x, alpha=0.2):
    """max(x, alpha * x) with the official gradient (slope 1 where the output is >= 0, so also at 0).

    The gradient is written with plain ops, so its own gradient (second order, for R1) is
    the same masked pass-through the official nested custom gradient returns; a nested
    `tf.custom_gradient` here breaks second-order gradients through `tf.cond`.
    """
    alpha = tf.constant(alpha, dtype=x.dtype)
    if ops.is_forward_only():  # same values, TensorFlow's own gradient (see ops.forward_only)
        return tf.maximum(x, x * alpha)

    @tf.custom_gradient
    def func(x):
        y = tf.maximum(x, x * alpha)
        return y, lambda dy: tf.where(y >= 0, dy, dy * alpha)

    return func(x)


def pixel_norm(x, epsilon=1e-8):
    """Normalise each feature vector (axis 1) to unit RMS."""
    return x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=1, keepdims=True) + tf.constant(epsilon, x.dtype))


def instance_norm(x, epsilon=1e-8):
    """Per-sample, per-channel normalisation over H, W; computed in float32 like the official code."""
    orig_dtype = x.dtype
    x = tf.cast(x, tf.float32)
    x -= tf.reduce_mean(x, axis=[2, 3], keepdims=True)
    x *= tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=[2, 3], keepdims=True) + epsilon)
    return tf.cast(x, orig_dtype)


def minibatch_stddev(x, group_size=4, num_new_features=1):
    """Append the average per-group standard deviation as `num_new_features` extra feature maps.

    The minibatch must be divisible by min(group_size, minibatch), as in the official layer.
    """
    s = x.shape
    group_size = tf.minimum(group_size, tf.shape(x)[0])
    y = tf.reshape(x, [group_size, -1, num_new_features, s[1] // num_new_features, s[2], s[3]])
    y = tf.cast(y, tf.float32)
    y -= tf.reduce_mean(y, axis=0, keepdims=True)
    y = tf.reduce_mean(tf.square(y), axis=0)
    y = tf.sqrt(y + 1e-8)
    y = tf.reduce_mean(y, axis=[2, 3, 4], keepdims=True)
    y = tf.reduce_mean(y, axis=[2])
    y = tf.cast(y, x.dtype)
    y = tf.tile(y, [group_size, 1, s[2], s[3]])
    return tf.concat([x, y], axis=1)


ACTIVATIONS = {
    "lrelu": (leaky_relu, np.sqrt(2)),
    "relu": (tf.nn.relu, np.sqrt(2)),
    "linear": (tf.identity, 1.0),
}

# ----------------------------------------------------------------------------
# Scopes: Keras layers named and structured like the official variable scopes.


class Scope(keras.layers.Layer):
    """A Keras layer that mirrors one variable scope of the official code.

    Own variables are registered with `variable()`, child scopes with `child()`; `named_variables()`
    yields (official relative name, variable) pairs in creation order. Children that are networks
    of their own (`is_component`) are reported under their own name prefix by the caller.
    """

    is_component = False

    def __init__(self, name, **kwargs):
        super().__init__(name=name, dtype="float32", **kwargs)
        self._convert_input_args = False  # we cast to the network's dtype ourselves
        self._allow_non_tensor_positional_args = True
        init_scope_lists(self)
        self.built = True

    def __call__(self, *args, **kwargs):
        out = super().__call__(*args, **kwargs)
        object.__setattr__(self, "_output_shape", list(out.shape))  # for Network.print_layers
        return out

    def variable(self, name, shape, initializer, trainable=True, aggregation="none"):
        """Create a float32 variable named `name` inside this scope."""
        var = self.add_weight(shape=tuple(int(s) for s in shape), initializer=initializer, dtype="float32",
                              trainable=trainable, autocast=False, aggregation=aggregation, name=name)
        self._scope_vars.append((name, var, initializer))
        self._scope_order.append((name, var))
        return var

    def child(self, layer):
        """Register `layer` as a child scope (tracked by Keras) and return it."""
        setattr(self, "_child_%d" % len(self._scope_children), layer)
        self._scope_children.append(layer)
        self._scope_order.append((None, layer))
        return layer

    def named_variables(self, prefix="", include_components=True):
        """(relative name, variable) for this scope and its children, in creation order (as the
        official template graph creates them, e.g. weight, Noise/weight, bias, StyleMod/...)."""
        for name, item in self._scope_order:
            if name is not None:
                yield prefix + name, item
            elif include_components or not item.is_component:
                yield from item.named_variables(prefix + item.name + "/", include_components)

    def reinitialize(self, include_children=True):
        """Assign fresh initial values to this scope's variables (and its children's)."""
        for _name, var, init in self._scope_vars:
            var.assign(init(var.shape, "float32"))
        if include_children:
            for layer in self._scope_children:
                if not layer.is_component:
                    layer.reinitialize()

    def layer_rows(self, expand=lambda child: None, prefix=""):
        """(name, traced output shape, trainable variables) per reported layer, for `Network.list_layers`:
        scopes with variables of their own (or no children) are rows, others are expanded; `expand(child)`
        may return the rows of a child itself (a component network's own table)."""
        rows = []
        for child in self._scope_children:
            name = prefix + child.name
            sub = expand(child)
            if sub is not None:
                rows.extend((name + "/" + sub_name, shape, trainables) for sub_name, shape, trainables in sub)
            elif child._scope_vars or not child._scope_children:
                trainables = [v for _, v in child.named_variables() if v.trainable]
                rows.append((name, getattr(child, "_output_shape", None), trainables))
            else:
                rows.extend(child.layer_rows(expand, name + "/"))
        return rows

    def named_scopes(self, prefix=""):
        """(relative name, scope) for every child scope, depth first."""
        for layer in self._scope_children:
            yield prefix + layer.name, layer
            yield from layer.named_scopes(prefix + layer.name + "/")


def init_scope_lists(layer):
    """The bookkeeping of a Scope, kept out of Keras' attribute tracking."""
    object.__setattr__(layer, "_scope_vars", [])      # (name, variable, initializer)
    object.__setattr__(layer, "_scope_children", [])  # child scopes
    object.__setattr__(layer, "_scope_order", [])     # (name, variable) or (None, child), creation order


def weight_init(shape, gain=np.sqrt(2), use_wscale=False, lrmul=1.0):
    """(init_std, runtime_coef) of the official `get_weight`: He init, equalized learning rate, lrmul."""
    fan_in = np.prod(shape[:-1])
    he_std = gain / np.sqrt(fan_in)
    if use_wscale:
        return 1.0 / lrmul, he_std * lrmul
    return he_std / lrmul, lrmul


class WeightScope(Scope):
    """A scope holding an equalized-learning-rate `weight` and optionally a `bias` (both with lrmul)."""

    def __init__(self, name, shape=None, gain=np.sqrt(2), use_wscale=False, lrmul=1.0, bias_size=None, **kwargs):
        super().__init__(name, **kwargs)
        self.weight = None
        self.bias = None
        self.lrmul = np.float32(lrmul)
        if shape is not None:
            init_std, runtime_coef = weight_init(shape, gain, use_wscale, lrmul)
            self.runtime_coef = np.float32(runtime_coef)  # float32 multiply, as TF1 did with a Python float
            self.weight = self.variable("weight", shape, keras.initializers.RandomNormal(0.0, init_std))
        if bias_size is not None:
            self.add_bias_variable(bias_size)

    def add_bias_variable(self, size):
        self.bias = self.variable("bias", [size], keras.initializers.Zeros())

    def w(self, dtype):
        """The runtime weight: stored value times the runtime coefficient, cast to `dtype`."""
        return tf.cast(self.weight * self.runtime_coef, dtype)

    def apply_bias(self, x):
        b = tf.cast(self.bias * self.lrmul, x.dtype)
        if len(x.shape) == 2:
            return x + b
        return x + tf.reshape(b, [1, -1, 1, 1])

    def dense(self, x):
        if len(x.shape) > 2:
            x = tf.reshape(x, [-1, int(np.prod(x.shape[1:]))])
        return tf.matmul(x, self.w(x.dtype))


class Dense(WeightScope):
    """Fully connected layer + bias (+ activation): `Dense0`, `StyleMod`, D's `Dense1`, ..."""

    def __init__(self, name, in_features, fmaps, gain=np.sqrt(2), use_wscale=False, lrmul=1.0, act=None, **kwargs):
        super().__init__(name, [in_features, fmaps], gain, use_wscale, lrmul, bias_size=fmaps, **kwargs)
        self.act = act

    def call(self, x):
        x = self.apply_bias(self.dense(x))
        return self.act(x) if self.act is not None else x


class Conv2d(WeightScope):
    """Convolution + bias (+ activation), optionally resampling: `FromRGB`, `Conv0`, `Conv1_down`, `ToRGB`...

    `resample` is None, 'up' (upscale2d_conv2d) or 'down' (conv2d_downscale2d); `fused_scale` is
    resolved per call from the official 'auto' rule unless given as a bool.
    """

    def __init__(self, name, in_channels, fmaps, kernel, gain=np.sqrt(2), use_wscale=False, lrmul=1.0, act=None,
                 resample=None, fused_scale="auto", use_bias=True, **kwargs):
        assert kernel >= 1 and kernel % 2 == 1
        super().__init__(name, [kernel, kernel, in_channels, fmaps], gain, use_wscale, lrmul,
                         bias_size=fmaps if use_bias else None, **kwargs)
        self.act = act
        self.resample = resample
        self.fused_scale = fused_scale

    def conv(self, x, fused_scale=None):
        w = self.w(x.dtype)
        fused = resolve_fused_scale(self.fused_scale if fused_scale is None else fused_scale, self.resample, x)
        if self.resample == "up":
            return ops.upscale2d_conv2d(x, w, fused)
        if self.resample == "down":
            return ops.conv2d_downscale2d(x, w, fused)
        return ops.conv2d(x, w)

    def call(self, x, fused_scale=None):
        x = self.apply_bias(self.conv(x, fused_scale))
        return self.act(x) if self.act is not None else x


def resolve_fused_scale(fused_scale, resample, x):
    """The official 'auto' rule: fuse when the up-conv OUTPUT or the down-conv INPUT is >= 128."""
    assert fused_scale in (True, False, "auto")
    if fused_scale != "auto":
        return bool(fused_scale)
    if resample == "up":
        return min(x.shape[2:]) * 2 >= 128
    if resample == "down":
        return min(x.shape[2:]) >= 128
    return False


class Noise(Scope):
    """Noise input: adds per-pixel noise scaled by a learned per-channel strength (`Noise/weight`)."""

    def __init__(self, channels, **kwargs):
        super().__init__("Noise", **kwargs)
        self.weight = self.variable("weight", [channels], keras.initializers.Zeros())

    def call(self, x, noise_var=None, randomize_noise=True):
        if noise_var is None or randomize_noise:
            noise = rng.normal([tf.shape(x)[0], 1, x.shape[2], x.shape[3]], dtype=x.dtype, batched=True)
        else:
            noise = tf.cast(noise_var, x.dtype)
        return x + noise * tf.reshape(tf.cast(self.weight, x.dtype), [1, -1, 1, 1])


class StyleMod(Dense):
    """Style modulation: x * (ys + 1) + yb with (ys, yb) an affine map of w (the `+1` gives scale 1 at init)."""

    def __init__(self, dlatent_size, channels, use_wscale=True, **kwargs):
        super().__init__("StyleMod", dlatent_size, channels * 2, gain=1, use_wscale=use_wscale, **kwargs)

    def call(self, x, dlatent):
        style = self.apply_bias(self.dense(dlatent))
        style = tf.reshape(style, [-1, 2, x.shape[1]] + [1] * (len(x.shape) - 2))
        return x * (style[:, 0] + 1) + style[:, 1]


class SynthesisLayer(WeightScope):
    """One layer of the synthesis network with its epilogue (noise, bias, activation, norms, style).

    `kind` selects the layer's main op, as in the official scopes:
    'const' (`4x4/Const`: learned constant), 'dense' (`4x4/Dense`: const_input_layer=False),
    'conv' (`Conv`, `Conv1`) or 'conv_up' (`Conv0_up`: upscale2d_conv2d then blur).
    """

    def __init__(self, name, kind, in_channels, fmaps, dlatent_size, layer_idx, act, gain, use_wscale=True,
                 use_noise=True, use_pixel_norm=False, use_instance_norm=True, use_styles=True,
                 blur_filter=(1, 2, 1), fused_scale="auto", **kwargs):
        if kind == "const":
            super().__init__(name, **kwargs)
            self.const = self.variable("const", [1, fmaps, 4, 4], keras.initializers.Ones())
        elif kind == "dense":
            # gain/4 matches the official Progressive GAN implementation.
            super().__init__(name, [in_channels, fmaps * 16], gain / 4, use_wscale, **kwargs)
        else:
            super().__init__(name, [3, 3, in_channels, fmaps], gain, use_wscale, **kwargs)
        self.kind = kind
        self.fmaps = fmaps
        self.layer_idx = layer_idx
        self.act = act
        self.use_pixel_norm = use_pixel_norm
        self.use_instance_norm = use_instance_norm
        self.blur_filter = list(blur_filter) if blur_filter else None
        self.fused_scale = fused_scale
        self.noise = self.child(Noise(fmaps)) if use_noise else None
        self.add_bias_variable(fmaps)
        self.style = self.child(StyleMod(dlatent_size, fmaps, use_wscale)) if use_styles else None

    def call(self, x, dlatents, noise_var=None, randomize_noise=True, fused_scale=None, dtype="float32"):
        if self.kind == "const":
            x = tf.tile(tf.cast(self.const, dtype), [tf.shape(dlatents)[0], 1, 1, 1])
        elif self.kind == "dense":
            x = tf.reshape(self.dense(dlatents[:, 0]), [-1, self.fmaps, 4, 4])
        elif self.kind == "conv":
            x = ops.conv2d(x, self.w(x.dtype))
        else:
            fused = resolve_fused_scale(self.fused_scale if fused_scale is None else fused_scale, "up", x)
            x = ops.upscale2d_conv2d(x, self.w(x.dtype), fused)
            if self.blur_filter:
                x = ops.blur2d(x, self.blur_filter)
        if self.noise is not None:
            x = self.noise(x, noise_var, randomize_noise)
        x = self.act(self.apply_bias(x))
        if self.use_pixel_norm:
            x = pixel_norm(x)
        if self.use_instance_norm:
            x = instance_norm(x)
        if self.style is not None:
            x = self.style(x, dlatents[:, self.layer_idx])
        return x
