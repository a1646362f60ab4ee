"""The official module path `training.networks_stylegan`: our Keras StyleGAN builders."""

from stylegan_tf.networks_stylegan import D_basic, G_mapping, G_style, G_synthesis  # noqa: F401
