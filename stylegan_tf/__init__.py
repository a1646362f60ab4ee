"""stylegan-tf: StyleGAN v1 on TensorFlow 2 / Keras 3. Importing the package is light (NumPy only);
networks live in `stylegan_tf.networks_stylegan`, the helpers for trained generators in `stylegan_tf.api`."""

from stylegan_tf.api import (dlatent_avg, generate, get_noise, latents_from_seeds, load_generator, load_networks,
                             map_latents, mix_styles, noise_shapes, override_noise, random_noise, style_ranges,
                             synthesize, truncate)
