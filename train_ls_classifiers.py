"""Train the attribute classifiers used by the linear separability (LS) metric.

The StyleGAN paper (appendix on linear separability): one classifier per CelebA-HQ attribute, with
the architecture of the (Progressive GAN) discriminator without minibatch standard deviation,
trained with Adam, learning rate 1e-3, minibatch 8, for 150k images. Here: ProGAN `D_paper` with
`label_size=0, mbstd_group_size=0` (other kwargs default to the official ones), images from a
labelled TFRecord dataset (dataset_tool.py; `<name>-rxx.labels` holds one column per attribute),
scaled to [-1, 1]. The LS metric reads softmax([logit, -logit]); we train exactly that two-way
softmax (cross-entropy), class 0 (logit > 0) = attribute present (label > --threshold).
Adam uses the StyleGAN/ProGAN betas (0.0, 0.99) and epsilon 1e-8 unless told otherwise.

    python train_ls_classifiers.py --dataset=celebahq --data_dir=datasets --result_dir=classifiers

writes `classifiers/celebahq-classifier-00-male.pkl` ... `-39-wearing-necktie.pkl` (network pickles in
the official layout), which `run_metrics.py --ls_classifiers=classifiers` uses.
"""

import os
import sys
import time

from absl import flags

import dnnlib

# Own FlagValues (not absl's global FLAGS): both scripts can be imported into one process.
FLAGS = flags.FlagValues()
flags.DEFINE_string("dataset", None, "Labelled TFRecord dataset directory (relative to --data_dir).", flag_values=FLAGS)
flags.DEFINE_string("data_dir", None, "Root directory of datasets.", flag_values=FLAGS)
flags.DEFINE_string("result_dir", "classifiers", "Where the classifier pickles are written.", flag_values=FLAGS)
flags.DEFINE_string("attributes", None, "Comma-separated label columns to train (default: all, up to 40).", flag_values=FLAGS)
flags.DEFINE_integer("total_images", 150000, "Training images per classifier (paper: 150k).", flag_values=FLAGS)
flags.DEFINE_integer("minibatch", 8, "Minibatch size (paper: 8).", flag_values=FLAGS)
flags.DEFINE_float("lrate", 1e-3, "Adam learning rate (paper: 1e-3).", flag_values=FLAGS)
flags.DEFINE_float("beta1", 0.0, "Adam beta1.", flag_values=FLAGS)
flags.DEFINE_float("beta2", 0.99, "Adam beta2.", flag_values=FLAGS)
flags.DEFINE_float("threshold", 0.5, "Label > threshold means the attribute is present (fits 0/1 and -1/1 labels).", flag_values=FLAGS)
flags.DEFINE_bool("mirror_augment", False, "Random horizontal flips of the training images.", flag_values=FLAGS)
flags.DEFINE_integer("fmap_base", 8192, "D_paper fmap_base (official default 8192).", flag_values=FLAGS)
flags.DEFINE_integer("fmap_max", 512, "D_paper fmap_max (official default 512).", flag_values=FLAGS)
flags.DEFINE_integer("seed", 1000, "Random seed.", flag_values=FLAGS)
flags.DEFINE_bool("overwrite", False, "Retrain classifiers whose pickle exists.", flag_values=FLAGS)


PROG_NAME = "train_ls_classifiers.py"


class UsageError(Exception):
    pass


def classifier_path(result_dir, idx):
    from metrics.feature_nets import CELEBAHQ_ATTRIBUTES, classifier_file_name
    name = classifier_file_name(idx) if idx < len(CELEBAHQ_ATTRIBUTES) else "classifier-%02d.pkl" % idx
    return os.path.join(result_dir, name)


def train_classifier(dset, attrib_idx, total_images, minibatch=8, lrate=1e-3, beta1=0.0, beta2=0.99, threshold=0.5,
                     mirror_augment=False, seed=1000, verbose=True, **d_kwargs):
    """Train one classifier on label column `attrib_idx`; returns (network, final running accuracy)."""
    import keras
    import tensorflow as tf
    import dnnlib.tflib as tflib

    keras.utils.set_random_seed(seed + attrib_idx)
    net = tflib.Network("D", func_name="training.networks_progan.D_paper", num_channels=dset.shape[0],
                        resolution=dset.shape[1], label_size=0, mbstd_group_size=0, **d_kwargs)
    variables = list(net.trainables.values())
    opt = keras.optimizers.Adam(learning_rate=lrate, beta_1=beta1, beta_2=beta2, epsilon=1e-8)

    @tf.function
    def step(images, labels):
        x = tf.cast(images, tf.float32) * (2.0 / 255.0) - 1.0
        if mirror_augment:
            flip = tf.random.uniform([tf.shape(x)[0], 1, 1, 1]) < 0.5
            x = tf.where(flip, tf.reverse(x, axis=[3]), x)
        present = labels[:, attrib_idx] > threshold
        target = tf.where(present, 0, 1)
        with tf.GradientTape() as tape:
            logits = net.get_output_for(x, None, is_training=True, structure="fixed")  # lod 0: no tf.cond
            two_way = tf.concat([logits, -logits], axis=1)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=two_way))
        grads = tape.gradient(loss, variables)
        # The lower-resolution FromRGB layers are unused at lod 0 (the classifier sees full-resolution images).
        opt.apply_gradients([(g, v) for g, v in zip(grads, variables) if g is not None])
        correct = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(two_way, axis=1, output_type=tf.int32), target), tf.float32))
        return loss, correct

    data = iter(dset.get_dataset(0, minibatch, repeat=True, drop_remainder=True))
    done, start, acc_ema, loss_ema = 0, time.time(), None, None
    while done < total_images:
        images, labels = next(data)
        loss, correct = step(images, labels)
        done += minibatch
        loss_v, acc_v = float(loss), float(correct)
        loss_ema = loss_v if loss_ema is None else 0.99 * loss_ema + 0.01 * loss_v
        acc_ema = acc_v if acc_ema is None else 0.99 * acc_ema + 0.01 * acc_v
        if verbose and (done % (minibatch * 200) == 0 or done >= total_images):
            rate = done / max(time.time() - start, 1e-9)
            sys.stderr.write("\rattribute %d: %d/%d images, loss %.4f, accuracy %.3f, %.1f images/s, ETA %s   "
                             % (attrib_idx, done, total_images, loss_ema, acc_ema, rate,
                                _fmt_time((total_images - done) / rate)))
            sys.stderr.flush()
    if verbose:
        sys.stderr.write("\n")
    return net, acc_ema


def _fmt_time(s):
    import dnnlib
    return dnnlib.util.format_time(max(s, 0))


def run():
    from stylegan_tf import legacy
    from stylegan_tf.data import reader as dataset
    if FLAGS.dataset is None:
        raise UsageError("--dataset is required")
    if FLAGS.total_images < 1 or FLAGS.minibatch < 1:
        raise UsageError("--total_images and --minibatch must be >= 1")
    try:
        dset = dataset.load_dataset(data_dir=FLAGS.data_dir, tfrecord_dir=FLAGS.dataset, max_label_size="full",
                                    shuffle_seed=FLAGS.seed)
    except (dataset.DatasetError, OSError, ValueError) as e:
        raise UsageError("cannot open dataset %s: %s" % (FLAGS.dataset, e)) from None
    if dset.label_size == 0:
        raise UsageError("dataset %s has no labels (a <name>-rxx.labels file with one column per attribute)" % FLAGS.dataset)
    if FLAGS.attributes:
        try:
            attributes = [int(a) for a in FLAGS.attributes.split(",")]
        except ValueError:
            raise UsageError("--attributes must be a comma list of integers") from None
    else:
        attributes = list(range(min(dset.label_size, 40)))
    bad = [a for a in attributes if not 0 <= a < dset.label_size]
    if bad:
        raise UsageError("attribute columns %s out of range: the dataset has %d label columns" % (bad, dset.label_size))
    os.makedirs(FLAGS.result_dir, exist_ok=True)
    for idx in attributes:
        path = classifier_path(FLAGS.result_dir, idx)
        if os.path.isfile(path) and not FLAGS.overwrite:
            print("%s exists, skipping (--overwrite to retrain)" % path)
            continue
        net, acc = train_classifier(dset, idx, FLAGS.total_images, minibatch=FLAGS.minibatch, lrate=FLAGS.lrate,
                                    beta1=FLAGS.beta1, beta2=FLAGS.beta2, threshold=FLAGS.threshold,
                                    mirror_augment=FLAGS.mirror_augment, seed=FLAGS.seed,
                                    fmap_base=FLAGS.fmap_base, fmap_max=FLAGS.fmap_max)
        legacy.save_pkl(net, path)  # atomic
        print("Wrote %s (running training accuracy %.3f)" % (path, acc))
    return 0


def main(argv=None):
    """Parse flags from argv (default sys.argv) and run; returns the exit code (0 ok, 1 error)."""
    return dnnlib.util.run_absl_cli(FLAGS, PROG_NAME, __doc__, run, (UsageError,), argv)


if __name__ == "__main__":
    sys.exit(main())
