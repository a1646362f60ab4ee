"""The official `dnnlib.tflib` API on TensorFlow 2: `Network` and tensor helpers."""

from . import network, optimizer, tfutil
from .network import Network, import_handler, register_build_func
from .optimizer import Optimizer
from .tfutil import (convert_images_to_uint8, init_tf, is_chief, is_tf_expression, lerp, lerp_clip, set_vars,
                     shape_to_list)
