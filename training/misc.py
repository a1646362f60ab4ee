"""The official module path `training.misc`: network pickles and image helpers, re-exported from
their owners (`stylegan_tf.legacy`, `stylegan_tf.images`, `dnnlib.util`) so official scripts and
imports keep working."""

from dnnlib.util import atomic_write, write_text_atomic  # noqa: F401
from stylegan_tf.images import (adjust_dynamic_range, convert_to_pil_image, create_image_grid,  # noqa: F401
                                save_image, save_image_grid)
from stylegan_tf.legacy import UnsafePickleError, load_pkl, load_pkl_from_file, save_pkl  # noqa: F401
