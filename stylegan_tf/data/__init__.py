"""The multi-resolution TFRecord dataset format, without TensorFlow.

A dataset is a directory `<dir>/` holding one TFRecord file per level of detail,
`<basename(dir)>-rNN.tfrecords` for NN = log2(resolution) down to 02, plus optionally
`<basename(dir)>-rxx.labels` (a NumPy `.npy` file of float32 labels, one row per image).
Each record is a serialised `tf.train.Example` with two features:

* `shape`: int64 list, the image shape as [channels, height, width];
* `data`:  bytes, the uint8 pixels in CHW order.

Every level is the float32 2x2 box average of the (unrounded, float32) level above; what is
stored is that average rounded half-to-even (`np.rint`) and clipped to uint8.
This is the layout of NVIDIA's StyleGAN / ProGAN `dataset_tool.py`, so datasets written by
either tool load in either reader.

Two opt-in extensions that the official reader cannot read (ours reads them transparently):

* PNG-encoded records: `data` holds a PNG file and a third feature `format` = b"png" says so;
* GZIP-compressed TFRecord files (same file names; detected by the gzip magic bytes).

The package writes and reads records with NumPy, Pillow and the standard library only, so the
conversion tool never has to import TensorFlow (whose import alone takes seconds); only
`reader` (the tf.data pipeline) imports TensorFlow. Modules: `tfrecord` (record framing and the
Example codec), `levels` (the image pyramid), `writer` (the atomic dataset writer), `convert`
(decoding, transforms, the parallel conversion loop), `info` (inspection), `reader` (tf.data),
`demo` (a built-in dataset).
"""

# Where every tool looks for `--dataset NAME` when `--data_dir` is not given (train.py, run_metrics.py,
# train_ls_classifiers.py): the official `config.data_dir`.
DEFAULT_DATA_DIR = "datasets"
