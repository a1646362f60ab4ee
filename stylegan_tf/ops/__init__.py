"""NCHW image ops: upfirdn2d and the StyleGAN v1 resampling / scaled-convolution primitives."""

from .resample import (blur2d, conv2d, conv2d_downscale2d, downscale2d, forward_only, is_forward_only, upscale2d,
                       upscale2d_conv2d)
from .upfirdn2d import upfirdn2d

__all__ = ["upfirdn2d", "blur2d", "upscale2d", "downscale2d", "conv2d", "upscale2d_conv2d",
           "conv2d_downscale2d", "forward_only", "is_forward_only"]
