"""Progressive growing: how the official networks blend levels of detail (lod) in one graph.

Outputs are always at full resolution: G upsamples the active level by nearest neighbour and
cross-fades with the level below while `lod` is fractional; D box-downsamples its input. The
three official structures give the same numbers: 'fixed' (no growing, lod 0 only), 'linear'
(every level computed, human-readable) and 'recursive' (`tf.cond` skips the levels the current
lod does not use: the efficient one).

A fourth, 'phase', is ours: for a lod known to lie in [phase_lod, phase_lod + 1] (one training
phase) it builds only the levels that range uses, without `tf.cond` (whose second-order
gradients, needed by R1, are slow to build), so the training loop retraces once per phase.
With `phase_native`, G's output and D's input stay at the phase's resolution instead of being
nearest-upsampled to full resolution and box-downsampled back (an exact identity). With
`phase_stable` (lod == phase_lod exactly, the first half of each official phase) the cross-fade
with the level below, whose weight is then exactly zero, is left out, as the official `tf.cond` does.
"""

import tensorflow as tf

from stylegan_tf import ops
from stylegan_tf.layers import lerp, lerp_clip


def cset(cur_lambda, new_cond, new_lambda):
    """Put a conditional branch in front of `cur_lambda`."""
    return lambda: tf.cond(new_cond, new_lambda, cur_lambda)


def grow_generator(block, torgb, x_in, lod_in, resolution_log2, structure, recursive_from=2, phase_lod=None,
                   phase_native=False, phase_stable=False):
    """Image at full resolution from `block(res, x)` / `torgb(res, x)` for res = 2..log2.

    `x_in` is the input of the 4x4 block. `recursive_from` is the first resolution of the official
    recursive `grow()`: 2 for Progressive GAN, 3 for StyleGAN (whose 4x4 block sits outside it).
    """
    log2 = resolution_log2
    if structure == "fixed":
        x = x_in
        for res in range(2, log2 + 1):
            x = block(res, x)
        return torgb(log2, x)
    if structure == "phase":
        lo = int(phase_lod)
        res_hi = log2 - lo
        assert 2 <= res_hi <= log2, "phase_lod %r out of range" % phase_lod
        x = prev = x_in
        for res in range(2, res_hi + 1):
            prev, x = x, block(res, x)
        img = torgb(res_hi, x)
        if res_hi > 2 and not phase_stable:
            img = lerp(img, ops.upscale2d(torgb(res_hi - 1, prev)), lod_in - lo)
        return img if phase_native else ops.upscale2d(img, 2 ** lo)
    if structure == "linear":
        x = block(2, x_in)
        images_out = torgb(2, x)
        for res in range(3, log2 + 1):
            lod = log2 - res
            x = block(res, x)
            img = torgb(res, x)
            images_out = lerp_clip(img, ops.upscale2d(images_out), lod_in - lod)
        return images_out
    assert structure == "recursive", structure

    def grow(x, res, lod):
        y = block(res, x)
        img = lambda: ops.upscale2d(torgb(res, y), 2 ** lod)
        if res > 2:
            img = cset(img, lod_in > lod, lambda: ops.upscale2d(
                lerp(torgb(res, y), ops.upscale2d(torgb(res - 1, x)), lod_in - lod), 2 ** lod))
        if lod > 0:
            img = cset(img, lod_in < lod, lambda: grow(y, res + 1, lod - 1))
        return img()

    if recursive_from == 2:
        return grow(x_in, 2, log2 - 2)
    x = block(2, x_in)
    if log2 == 2:
        return torgb(2, x)
    return grow(x, 3, log2 - 3)


def grow_discriminator(fromrgb, block, images_in, lod_in, resolution_log2, structure, phase_lod=None,
                       phase_native=False, phase_stable=False):
    """Scores from `fromrgb(x, res)` / `block(x, res)` (res = log2..2), blending inputs by lod."""
    log2 = resolution_log2
    if structure == "phase":
        lo = int(phase_lod)
        res_hi = log2 - lo
        assert 2 <= res_hi <= log2, "phase_lod %r out of range" % phase_lod
        img = images_in if phase_native else ops.downscale2d(images_in, 2 ** lo)
        x = fromrgb(img, res_hi)
        for res in range(res_hi, 1, -1):
            x = block(x, res)
            if res == res_hi and res > 2 and not phase_stable:
                x = lerp(x, fromrgb(ops.downscale2d(img), res - 1), lod_in - lo)
        return x
    if structure == "fixed":
        x = fromrgb(images_in, log2)
        for res in range(log2, 2, -1):
            x = block(x, res)
        return block(x, 2)
    if structure == "linear":
        img = images_in
        x = fromrgb(img, log2)
        for res in range(log2, 2, -1):
            lod = log2 - res
            x = block(x, res)
            img = ops.downscale2d(img)
            y = fromrgb(img, res - 1)
            x = lerp_clip(x, y, lod_in - lod)
        return block(x, 2)
    assert structure == "recursive", structure

    def grow(res, lod):
        x = lambda: fromrgb(ops.downscale2d(images_in, 2 ** lod), res)
        if lod > 0:
            x = cset(x, lod_in < lod, lambda: grow(res + 1, lod - 1))
        x = block(x(), res)
        y = lambda: x
        if res > 2:
            y = cset(y, lod_in > lod, lambda: lerp(
                x, fromrgb(ops.downscale2d(images_in, 2 ** (lod + 1)), res - 1), lod_in - lod))
        return y()

    return grow(2, log2 - 2)
