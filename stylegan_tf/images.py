"""Image arrays to files: dynamic-range mapping, grids (and the training snapshot grid), the uint8
conversions, atomic PNG/JPEG saving.

Two uint8 conversions exist because the official code has two and their numbers differ at ties:
`to_uint8` is `tflib.convert_images_to_uint8` (floor of x * 127.5 + 128, generator outputs in
[-1, 1]); `convert_to_pil_image` is `misc.convert_to_pil_image` (round half to even after mapping
any `drange` to [0, 255]; snapshot grids and figures).
"""

import re

import numpy as np


def adjust_dynamic_range(data, drange_in, drange_out):
    """Linearly map values from `drange_in` to `drange_out` (float32 arithmetic as the official code)."""
    if drange_in != drange_out:
        scale = (np.float32(drange_out[1]) - np.float32(drange_out[0])) / (
            np.float32(drange_in[1]) - np.float32(drange_in[0]))
        bias = np.float32(drange_out[0]) - np.float32(drange_in[0]) * scale
        data = data * scale + bias
    return data


def create_image_grid(images, grid_size=None):
    """Tile [N, C, H, W] (or [N, H, W]) images into one [C, gh*H, gw*W] grid, row-major."""
    assert images.ndim in (3, 4)
    num, img_h, img_w = images.shape[0], images.shape[-2], images.shape[-1]
    if grid_size is not None:
        grid_w, grid_h = tuple(grid_size)
    else:
        grid_w = max(int(np.ceil(np.sqrt(num))), 1)
        grid_h = max((num - 1) // grid_w + 1, 1)
    grid = np.zeros(list(images.shape[1:-2]) + [grid_h * img_h, grid_w * img_w], dtype=images.dtype)
    for idx in range(min(num, grid_w * grid_h)):
        x = (idx % grid_w) * img_w
        y = (idx // grid_w) * img_h
        grid[..., y:y + img_h, x:x + img_w] = images[idx]
    return grid


def to_uint8(images, nhwc=True):
    """[N, C, H, W] float images in [-1, 1] -> uint8 [0, 255] (NHWC unless nhwc=False), like
    `tflib.convert_images_to_uint8`."""
    images = np.asarray(images, np.float32) * 127.5 + 128.0
    images = np.clip(np.floor(images), 0, 255).astype(np.uint8)
    return images.transpose(0, 2, 3, 1) if nhwc else images


def convert_to_pil_image(image, drange=(0, 1)):
    """A CHW (or HW) float image in `drange` as a PIL image (RGB or L)."""
    import PIL.Image
    assert image.ndim in (2, 3)
    if image.ndim == 3:
        image = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    image = adjust_dynamic_range(image, drange, [0, 255])
    image = np.rint(image).clip(0, 255).astype(np.uint8)
    return PIL.Image.fromarray(image, "RGB" if image.ndim == 3 else "L")


def to_pil(image):
    """A uint8 HWC image (C = 1 or 3) or a PIL image as a PIL image."""
    import PIL.Image
    if isinstance(image, PIL.Image.Image):
        return image
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return PIL.Image.fromarray(image, "RGB" if image.ndim == 3 else "L")


def style_mixing_canvas(images, num_cols, num_rows):
    """The layout of the paper's Figure 3 as a PIL image, from uint8 [N, H, W, C] `images` in the order: the
    `num_cols` column images (across the top), the `num_rows` row images (down the left), then the cells
    row-major. The top-left corner stays white."""
    import PIL.Image
    h, w = images.shape[1:3]
    canvas = PIL.Image.new("RGB", (w * (num_cols + 1), h * (num_rows + 1)), "white")
    for c in range(num_cols):
        canvas.paste(to_pil(images[c]), ((c + 1) * w, 0))
    for r in range(num_rows):
        canvas.paste(to_pil(images[num_cols + r]), (0, (r + 1) * h))
        for c in range(num_cols):
            canvas.paste(to_pil(images[num_cols + num_rows + r * num_cols + c]), ((c + 1) * w, (r + 1) * h))
    return canvas


def save_pil(img, filename):
    """Save a PIL image (or uint8 HWC array) as PNG, JPEG for .jpg/.jpeg, atomically."""
    import dnnlib  # here, not at the top: importing stylegan_tf stays light (NumPy only)
    with dnnlib.util.atomic_write(filename, "wb") as f:
        to_pil(img).save(f, format="JPEG" if filename.lower().endswith((".jpg", ".jpeg")) else "PNG")


def save_image(image, filename, drange=(0, 1)):
    """Save one CHW float image in `drange` as PNG/JPEG (by extension), atomically."""
    save_pil(convert_to_pil_image(image, drange), filename)


def save_image_grid(images, filename, drange=(0, 1), grid_size=None):
    """Save [N, C, H, W] images as one grid image, atomically."""
    save_pil(convert_to_pil_image(create_image_grid(images, grid_size), drange), filename)


# ----------------------------------------------------------------------------
# The training snapshot grid (the official `setup_snapshot_image_grid`).


class GridConfigError(ValueError):
    """A snapshot-grid size or layout that cannot be used (reported by train.py in one line)."""


GRID_CLASS_LAYOUTS = dict(row_per_class=(None, 1), col_per_class=(1, None), class4x4=(4, 4))


def setup_snapshot_image_grid(G, training_set, size="1080p", layout="random", seed=1000, max_draws=1000000):
    """Grid size, reals, labels and latents for the image snapshots: official sizes '1080p' / '4k'
    (or 'WxH') and layouts 'random', 'row_per_class', 'col_per_class', 'class4x4' (a block of the
    grid per class, blocks filled in class order, as many as fit, from up to `max_draws` images)."""
    gw, gh = 1, 1
    if re.match(r"^\d+x\d+$", str(size)):
        gw, gh = (int(v) for v in size.split("x"))
    elif size not in ("1080p", "4k"):
        raise GridConfigError("grid size %r: use '1080p', '4k' or 'WxH'" % (size,))
    if size == "1080p":
        gw = int(np.clip(1920 // G.output_shape[3], 3, 32))
        gh = int(np.clip(1080 // G.output_shape[2], 2, 32))
    if size == "4k":
        gw = int(np.clip(3840 // G.output_shape[3], 7, 32))
        gh = int(np.clip(2160 // G.output_shape[2], 4, 32))
    latents = np.random.RandomState(seed).randn(gw * gh, *G.input_shape[1:]).astype(np.float32)
    if layout == "random":
        reals, labels = training_set.get_minibatch_np(gw * gh)
        return (gw, gh), reals, labels, latents
    if layout not in GRID_CLASS_LAYOUTS:
        raise GridConfigError("grid layout %r: use 'random' or one of %s" % (layout, ", ".join(GRID_CLASS_LAYOUTS)))
    if not training_set.label_size:
        raise GridConfigError("grid layout %r needs a dataset with labels" % layout)
    bw, bh = GRID_CLASS_LAYOUTS[layout]
    bw, bh = bw or gw, bh or gh
    nw, nh = (gw - 1) // bw + 1, (gh - 1) // bh + 1
    blocks = [[] for _ in range(nw * nh)]  # block i: class i % label_size, its (i // label_size)-th block
    drawn, chunk = 0, int(np.clip((64 << 20) // max(int(np.prod(training_set.shape)), 1), 1, 256))  # <= 64 MB
    while drawn < max_draws and not all(len(block) >= bw * bh for block in blocks):
        images, labels = training_set.get_minibatch_np(chunk)
        drawn += chunk
        for image, label in zip(images, labels):
            idx = int(np.argmax(label))
            while idx < len(blocks) and len(blocks[idx]) >= bw * bh:
                idx += training_set.label_size
            if idx < len(blocks):
                blocks[idx].append((image, label))
    if not all(len(block) >= bw * bh for block in blocks):
        print("Snapshot grid: not enough images of every class after %d draws; some cells stay empty." % drawn)
    reals = np.zeros([gw * gh] + list(training_set.shape), dtype=images.dtype)
    grid_labels = np.zeros([gw * gh, training_set.label_size], dtype=labels.dtype)
    for i, block in enumerate(blocks):
        for j, (image, label) in enumerate(block[:bw * bh]):
            x = (i % nw) * bw + j % bw
            y = (i // nw) * bh + j // bw
            if x < gw and y < gh:
                reals[x + y * gw] = image
                grid_labels[x + y * gw] = label
    return (gw, gh), reals, grid_labels, latents
