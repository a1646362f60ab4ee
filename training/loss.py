"""The official StyleGAN / Progressive GAN loss functions, selected by name (`func_name`).

Each returns a per-sample loss (D_logistic_simplegp: the official [N, N] broadcast, whose mean
is the intended loss); the training loop takes the mean over the global batch. `G` and `D` are
objects with `get_output_for` and `input_shapes` (Networks, or the training loop's per-phase
views). Latents come from `stylegan_tf.rng`, so a step is reproducible from its seed.
"""

import tensorflow as tf

from dnnlib.tflib.autosummary import autosummary
from stylegan_tf import rng


def fp32(*values):
    """Cast tensor(s) to float32."""
    values = tuple(tf.cast(v, tf.float32) for v in values)
    return values if len(values) >= 2 else values[0]


def _latents(G, minibatch_size):
    return rng.normal([minibatch_size] + list(G.input_shapes[0][1:]), batched=True)


def _input_gradients(D, images, labels, opt):
    """d(sum of D's scores)/d(images), float32, with the optimizer's loss scaling applied and undone."""
    with tf.GradientTape() as tape:
        tape.watch(images)
        scores = fp32(D.get_output_for(images, labels, is_training=True))
        loss = _scale(opt, tf.reduce_sum(scores))
    return scores, _unscale(opt, fp32(tape.gradient(loss, images)))


def _sqnorm(D, grads):
    """Per-sample squared gradient norm as at full resolution (D.input_area_scale is 4**lod when
    D sees images at the phase's own resolution; see training_loop.PhaseView)."""
    return tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) / getattr(D, "input_area_scale", 1.0)


def _scale(opt, loss):
    return opt.apply_loss_scaling(loss) if opt is not None and hasattr(opt, "apply_loss_scaling") else loss


def _unscale(opt, value):
    return opt.undo_loss_scaling(value) if opt is not None and hasattr(opt, "undo_loss_scaling") else value


def _real_fake_scores(G, D, minibatch_size, reals, labels):
    fakes = G.get_output_for(_latents(G, minibatch_size), labels, is_training=True)
    real_scores = autosummary("Loss/scores/real", fp32(D.get_output_for(reals, labels, is_training=True)))
    autosummary("Loss/signs/real", tf.sign(real_scores))  # ADA's r_t (the augment slot's `update`)
    fake_scores = autosummary("Loss/scores/fake", fp32(D.get_output_for(fakes, labels, is_training=True)))
    return fakes, real_scores, fake_scores


def _gradient_penalty(G, D, opt, minibatch_size, reals, labels, fakes, wgan_lambda, wgan_target):
    mixing = rng.uniform([minibatch_size, 1, 1, 1], 0.0, 1.0, dtype=fakes.dtype, batched=True)
    mixed = tf.cast(reals, fakes.dtype) + (fakes - tf.cast(reals, fakes.dtype)) * mixing
    mixed_scores, grads = _input_gradients(D, mixed, labels, opt)
    autosummary("Loss/scores/mixed", mixed_scores)
    norms = autosummary("Loss/mixed_norms", tf.sqrt(_sqnorm(D, grads)))
    return tf.square(norms - wgan_target) * (wgan_lambda / (wgan_target ** 2))


# ----------------------------------------------------------------------------
# WGAN and WGAN-GP (Progressive GAN).


def G_wgan(G, D, opt, training_set, minibatch_size):
    labels = training_set.get_random_labels_tf(minibatch_size)
    fakes = G.get_output_for(_latents(G, minibatch_size), labels, is_training=True)
    return -fp32(D.get_output_for(fakes, labels, is_training=True))


def D_wgan(G, D, opt, training_set, minibatch_size, reals, labels, wgan_epsilon=0.001):
    _, real_scores, fake_scores = _real_fake_scores(G, D, minibatch_size, reals, labels)
    epsilon_penalty = autosummary("Loss/epsilon_penalty", tf.square(real_scores))
    return fake_scores - real_scores + epsilon_penalty * wgan_epsilon


def D_wgan_gp(G, D, opt, training_set, minibatch_size, reals, labels, wgan_lambda=10.0, wgan_epsilon=0.001,
              wgan_target=1.0):
    fakes, real_scores, fake_scores = _real_fake_scores(G, D, minibatch_size, reals, labels)
    loss = fake_scores - real_scores
    loss += _gradient_penalty(G, D, opt, minibatch_size, reals, labels, fakes, wgan_lambda, wgan_target)
    epsilon_penalty = autosummary("Loss/epsilon_penalty", tf.square(real_scores))
    return loss + epsilon_penalty * wgan_epsilon


# ----------------------------------------------------------------------------
# Hinge loss.


def D_hinge(G, D, opt, training_set, minibatch_size, reals, labels):
    _, real_scores, fake_scores = _real_fake_scores(G, D, minibatch_size, reals, labels)
    return tf.maximum(0.0, 1.0 + fake_scores) + tf.maximum(0.0, 1.0 - real_scores)


def D_hinge_gp(G, D, opt, training_set, minibatch_size, reals, labels, wgan_lambda=10.0, wgan_target=1.0):
    fakes, real_scores, fake_scores = _real_fake_scores(G, D, minibatch_size, reals, labels)
    loss = tf.maximum(0.0, 1.0 + fake_scores) + tf.maximum(0.0, 1.0 - real_scores)
    return loss + _gradient_penalty(G, D, opt, minibatch_size, reals, labels, fakes, wgan_lambda, wgan_target)


# ----------------------------------------------------------------------------
# Logistic loss (StyleGAN: non-saturating G, D with R1 "simple gradient penalty").


def G_logistic_saturating(G, D, opt, training_set, minibatch_size):
    labels = training_set.get_random_labels_tf(minibatch_size)
    fakes = G.get_output_for(_latents(G, minibatch_size), labels, is_training=True)
    return -tf.nn.softplus(fp32(D.get_output_for(fakes, labels, is_training=True)))  # log(1 - sigmoid(fake))


def G_logistic_nonsaturating(G, D, opt, training_set, minibatch_size):
    labels = training_set.get_random_labels_tf(minibatch_size)
    fakes = G.get_output_for(_latents(G, minibatch_size), labels, is_training=True)
    return tf.nn.softplus(-fp32(D.get_output_for(fakes, labels, is_training=True)))  # -log(sigmoid(fake))


def D_logistic(G, D, opt, training_set, minibatch_size, reals, labels):
    _, real_scores, fake_scores = _real_fake_scores(G, D, minibatch_size, reals, labels)
    return tf.nn.softplus(fake_scores) + tf.nn.softplus(-real_scores)


def D_logistic_simplegp(G, D, opt, training_set, minibatch_size, reals, labels, r1_gamma=10.0, r2_gamma=0.0,
                        r1_interval=1, penalty_step=True):
    """Logistic D loss + R1 (gamma/2 * |d D(real)/d real|^2) and optionally R2 (the same on fakes).

    Beyond the official code, opt-in lazy regularisation as in StyleGAN2: with `r1_interval` N > 1
    the training loop passes `penalty_step` (a Python bool) true every N-th minibatch, and the
    penalties are computed then only, scaled by N.
    """
    fakes = G.get_output_for(_latents(G, minibatch_size), labels, is_training=True)
    with_penalty = r1_interval <= 1 or penalty_step
    scale = float(max(r1_interval, 1))
    penalties = []

    def scores_with_penalty(images, gamma, name):
        scores, grads = _input_gradients(D, images, labels, opt)
        penalties.append(autosummary(name, _sqnorm(D, grads)) * (gamma * 0.5 * scale))
        return scores

    if with_penalty and r1_gamma != 0.0:
        real_scores = scores_with_penalty(reals, r1_gamma, "Loss/r1_penalty")
    else:
        real_scores = fp32(D.get_output_for(reals, labels, is_training=True))
    if with_penalty and r2_gamma != 0.0:
        fake_scores = scores_with_penalty(fakes, r2_gamma, "Loss/r2_penalty")
    else:
        fake_scores = fp32(D.get_output_for(fakes, labels, is_training=True))
    real_scores = autosummary("Loss/scores/real", real_scores)
    autosummary("Loss/signs/real", tf.sign(real_scores))
    fake_scores = autosummary("Loss/scores/fake", fake_scores)
    loss = tf.nn.softplus(fake_scores) + tf.nn.softplus(-real_scores)  # [N, 1]
    for penalty in penalties:
        loss += penalty  # [N, 1] + [N] -> [N, N], as the official code (the mean is the loss)
    return loss


# ----------------------------------------------------------------------------
# Losses as training phases (in the spirit of stylegan2-ada-pytorch's Loss.accumulate_gradients(phase)).


class StyleGANLoss:
    """The official loss pair, G_loss_args and D_loss_args ({func_name, keyword arguments}), as the phases
    a training step runs: 'Gmain' for G; for D 'Dboth' (main loss and its regulariser in one pass, the
    official R1 every minibatch) or, with a lazy interval N > 1 (`D_loss_args.r1_interval`), 'Dboth' on
    every N-th D minibatch (penalty scaled by N) and 'Dmain' (no regulariser) on the others. How often a
    phase runs is the loss's setting; the loop only asks `phases(network, index)`."""

    def __init__(self, G_loss_args, D_loss_args):
        import dnnlib
        G_kwargs, D_kwargs = dict(G_loss_args), dict(D_loss_args)
        self.G_func = dnnlib.util.get_obj_by_name(G_kwargs.pop("func_name"))
        self.D_func = dnnlib.util.get_obj_by_name(D_kwargs.pop("func_name"))
        self.G_kwargs, self.D_kwargs = G_kwargs, D_kwargs
        self.reg_interval = max(int(D_kwargs.get("r1_interval", 1)), 1)

    def phases(self, network, index):
        """Names of the phases of `network` ('G' or 'D') in its `index`-th minibatch (counted from 0)."""
        if network == "G":
            return ("Gmain",)
        return ("Dboth",) if index % self.reg_interval == 0 else ("Dmain",)

    def phase_loss(self, phase, G, D, opt, training_set, minibatch_size, reals=None, labels=None):
        """Per-sample loss of `phase` (the loop takes its mean over the global batch). `training_set` gives
        random labels (get_random_labels_tf); `reals`/`labels` only for D phases."""
        if phase == "Gmain":
            return self.G_func(G=G, D=D, opt=opt, training_set=training_set, minibatch_size=minibatch_size,
                               **self.G_kwargs)
        if phase not in ("Dmain", "Dboth"):
            raise ValueError("unknown phase %r" % (phase,))
        kwargs = dict(self.D_kwargs)
        if self.reg_interval > 1:
            kwargs["penalty_step"] = phase == "Dboth"
        return self.D_func(G=G, D=D, opt=opt, training_set=training_set, minibatch_size=minibatch_size, reals=reals,
                           labels=labels, **kwargs)
