"""Small framework-level helpers shared by every part of stylegan-tf (the official `dnnlib` API)."""

from . import util
from .util import EasyDict
