"""The official module path `training.misc`: network pickles, image helpers and the run-directory
locators, re-exported from their owners (`stylegan_tf.legacy`, `stylegan_tf.images`,
`stylegan_tf.rundir`, `dnnlib.util`) so official scripts and imports keep working."""

from dnnlib.util import atomic_write, write_text_atomic  # noqa: F401
from stylegan_tf.images import (adjust_dynamic_range, convert_to_pil_image, create_image_grid,  # noqa: F401
                                save_image, save_image_grid, setup_snapshot_image_grid)
from stylegan_tf.legacy import UnsafePickleError, load_pkl, load_pkl_from_file, save_pkl  # noqa: F401
from stylegan_tf.rundir import (get_id_string_for_network_pkl, list_network_pkls, locate_network_pkl,  # noqa: F401
                                locate_run_dir, parse_config_for_previous_run)
