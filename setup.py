"""Installable package for stylegan-tf: StyleGAN (Karras et al. 2019) on TensorFlow 2 / Keras 3."""

from setuptools import find_packages, setup

setup(
    name="stylegan-tf",
    version="0.1.0",
    description="A faithful TensorFlow 2 / Keras 3 reimplementation of NVIDIA's StyleGAN.",
    packages=find_packages(include=["stylegan_tf", "stylegan_tf.*", "dnnlib", "dnnlib.*",
                                    "training", "training.*", "metrics", "metrics.*"]),
    py_modules=["dataset_tool", "train", "run_metrics", "pretrained_example", "generate_figures",
                "export_savedmodel", "train_ls_classifiers"],
    package_data={"stylegan_tf.ops.custom": ["*.cc", "*.cu", "*.h"]},  # compiled on first use
    python_requires=">=3.9",
    install_requires=[
        "tensorflow>=2.16",
        "numpy",
        "pillow",
        "scipy",
        "scikit-learn",
        "absl-py",
        "tensorflow-datasets",
        "google-crc32c",  # TFRecord checksums in dataset_tool.py (a NumPy fallback is ~2x slower)
    ],
    extras_require={
        "test": ["pytest", "lmdb", "h5py"],
        "lsun": ["lmdb"],
        "hdf5": ["h5py"],
    },
)
