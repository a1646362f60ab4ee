"""Writes N deterministic photo-like PNGs (smooth colour fields plus grain) for the dataset benchmarks.

    python bench/common/dataset_make_pngs.py OUT_DIR [--count 1000] [--resolution 256] [--seed 0]

Each PNG is about 110 KB at 256x256 (the raw multi-resolution records take ~2.4x that),
similar to real photographs; pure noise would be unrealistically incompressible.
"""

import argparse
import os

import numpy as np
import PIL.Image


def make_image(rng, res):
    y, x = np.mgrid[0:res, 0:res].astype(np.float32) / res
    img = np.zeros((res, res, 3), np.float32)
    for c in range(3):
        for _ in range(4):
            fx, fy, ph = rng.uniform(0.5, 6, 2).tolist() + [rng.uniform(0, 2 * np.pi)]
            img[:, :, c] += rng.uniform(20, 60) * np.sin(2 * np.pi * (fx * x + fy * y) + ph)
        img[:, :, c] += rng.uniform(60, 190)
    img += rng.normal(0, 6, img.shape)
    return np.rint(img).clip(0, 255).astype(np.uint8)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out_dir")
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--resolution", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    rng = np.random.RandomState(a.seed)
    total = 0
    for i in range(a.count):
        path = os.path.join(a.out_dir, "img%05d.png" % i)
        PIL.Image.fromarray(make_image(rng, a.resolution)).save(path)
        total += os.path.getsize(path)
    print("wrote %d PNGs to %s, %.1f MB (%.0f KB each)" % (a.count, a.out_dir, total / 1e6, total / a.count / 1e3))


if __name__ == "__main__":
    main()
