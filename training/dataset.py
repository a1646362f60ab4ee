"""The official module path `training.dataset`: the multi-resolution TFRecord reader, re-exported from
its owner `stylegan_tf.data.reader` so official code, configs (`training.dataset.TFRecordDataset`)
and imports keep working."""

from stylegan_tf.data.reader import *  # noqa: F401,F403
from stylegan_tf.data.reader import (DatasetError, SyntheticDataset, TFRecordDataset, load_dataset,  # noqa: F401
                                     parse_tfrecord_np, parse_tfrecord_tf)
