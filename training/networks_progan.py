"""The official module path `training.networks_progan`: our Keras Progressive GAN builders."""

from stylegan_tf.networks_progan import D_paper, G_paper  # noqa: F401
