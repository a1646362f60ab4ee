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

import click

import dnnlib
from dnnlib import cli
from stylegan_tf import cli as tool
from stylegan_tf.data import DEFAULT_DATA_DIR

PROG_NAME = "train_ls_classifiers.py"


class UsageError(click.UsageError):
    """A bad flag: one line, exit code 2."""


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
    done, acc_ema, loss_ema = 0, None, None
    with dnnlib.util.Progress(total_images, label="attribute %d" % attrib_idx, enabled=verbose) as progress:
        while done < total_images:
            images, labels = next(data)
            loss, correct = step(images, labels)
            done += minibatch
            loss_v, acc_v = float(loss), float(correct)
            loss_ema = loss_v if loss_ema is None else 0.99 * loss_ema + 0.01 * loss_v
            acc_ema = acc_v if acc_ema is None else 0.99 * acc_ema + 0.01 * acc_v
            progress.note("loss %.4f, accuracy %.3f" % (loss_ema, acc_ema))
            progress.update(min(done, total_images))
    return net, acc_ema


def run(opts):
    """Train the classifiers (see `command`)."""
    if opts.total_images < 1 or opts.minibatch < 1:
        raise UsageError("--total_images and --minibatch must be >= 1")
    attributes = None
    if opts.attributes:
        try:
            attributes = [int(a) for a in opts.attributes.split(",")]
        except ValueError:
            raise UsageError("--attributes must be a comma list of integers, got %r" % opts.attributes) from None
    if not os.path.isdir(os.path.join(opts.data_dir, opts.dataset)):  # before TensorFlow starts
        raise cli.CommandError("cannot open dataset %s: no such directory: %s"
                               % (opts.dataset, os.path.join(opts.data_dir, opts.dataset)))
    cli.import_tensorflow()
    from stylegan_tf import legacy
    from stylegan_tf.data import reader as dataset
    try:
        dset = dataset.load_dataset(data_dir=opts.data_dir, tfrecord_dir=opts.dataset, max_label_size="full",
                                    shuffle_seed=opts.seed)
    except (dataset.DatasetError, OSError, ValueError) as e:
        raise cli.CommandError("cannot open dataset %s: %s" % (opts.dataset, e)) from None
    if dset.label_size == 0:
        raise cli.CommandError("dataset %s has no labels (a <name>-rxx.labels file with one column per attribute)" % opts.dataset)
    if not opts.attributes:
        attributes = list(range(min(dset.label_size, 40)))
    bad = [a for a in attributes if not 0 <= a < dset.label_size]
    if bad:
        raise cli.CommandError("attribute columns %s out of range: the dataset has %d label columns" % (bad, dset.label_size))
    os.makedirs(opts.result_dir, exist_ok=True)
    for idx in attributes:
        path = classifier_path(opts.result_dir, idx)
        if os.path.isfile(path) and not opts.overwrite:
            print("%s exists, skipping (--overwrite to retrain)" % path)
            continue
        net, acc = train_classifier(dset, idx, opts.total_images, minibatch=opts.minibatch, lrate=opts.lrate,
                                    beta1=opts.beta1, beta2=opts.beta2, threshold=opts.threshold,
                                    mirror_augment=opts.mirror_augment, seed=opts.seed,
                                    fmap_base=opts.fmap_base, fmap_max=opts.fmap_max)
        legacy.save_pkl(net, path)  # atomic
        print("Wrote %s (running training accuracy %.3f)" % (path, acc))


@click.command(context_settings=dict(help_option_names=["-h", "--help"], max_content_width=110),
               help=tool.click_help(__doc__))
@click.option("--dataset", required=True, help="Labelled TFRecord dataset directory (relative to --data_dir).")
@click.option("--data_dir", default=DEFAULT_DATA_DIR, show_default=True, help="Root directory of datasets.")
@click.option("--result_dir", default="classifiers", show_default=True, help="Where the classifier pickles are "
              "written.")
@click.option("--attributes", default=None, help="Comma-separated label columns to train (default: all, up to 40).")
@click.option("--total_images", type=int, default=150000, show_default=True, help="Training images per classifier "
              "(paper: 150k).")
@click.option("--minibatch", type=int, default=8, show_default=True, help="Minibatch size (paper: 8).")
@click.option("--lrate", type=float, default=1e-3, show_default=True, help="Adam learning rate (paper: 1e-3).")
@click.option("--beta1", type=float, default=0.0, show_default=True, help="Adam beta1.")
@click.option("--beta2", type=float, default=0.99, show_default=True, help="Adam beta2.")
@click.option("--threshold", type=float, default=0.5, show_default=True, help="Label > threshold means the attribute "
              "is present (fits 0/1 and -1/1 labels).")
@cli.bool_option("--mirror_augment", help="Random horizontal flips of the training images.")
@click.option("--fmap_base", type=int, default=8192, show_default=True, help="D_paper fmap_base (official default).")
@click.option("--fmap_max", type=int, default=512, show_default=True, help="D_paper fmap_max (official default).")
@click.option("--seed", type=int, default=1000, show_default=True, help="Random seed.")
@cli.bool_option("--overwrite", help="Retrain classifiers whose pickle exists.")
@cli.verbose_option
def command(**opts):
    run(dnnlib.EasyDict(opts))


def main(argv=None):
    """Parse argv (argv[0] is the program name; default sys.argv) and run; returns the exit code (0 ok,
    1 a bad dataset, 2 a bad command line)."""
    argv = list(sys.argv if argv is None else argv)
    return cli.run(command, argv[1:], prog_name=PROG_NAME)


if __name__ == "__main__":
    sys.exit(main())
