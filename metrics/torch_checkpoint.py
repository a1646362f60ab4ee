"""Read PyTorch checkpoints (`torch.save` of a state dict) WITHOUT torch: the LPIPS authors' `lin`
weights (`weights/v0.1/vgg.pth` of the `lpips` package) and torchvision's VGG16
(`vgg16-397923af.pth`).

Both on-disk layouts that `torch.load` reads are accepted:
- legacy (torch < 1.6, `_use_new_zipfile_serialization=False`): five pickles in a row (magic number,
  protocol version, sys info, the object, the list of storage keys), then each storage as an
  int64 little-endian element count followed by its raw bytes, in key order;
- zip (torch >= 1.6): `<prefix>/data.pkl` (the object), `<prefix>/data/<key>` (raw bytes of each
  storage), `<prefix>/version`.
In both, a tensor is `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` and a
storage is a persistent id `('storage', <torch.XStorage>, key, location, numel[, view])`. The
unpickler allows only those references (plus `collections.OrderedDict`): nothing else is imported
or called, so a checkpoint cannot run code.
"""

import collections
import io
import pickle
import struct
import zipfile

import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
LEGACY_PROTOCOL_VERSION = 1001

# torch storage classes -> NumPy dtypes (little-endian, as torch writes on x86/ARM).
STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8",
    "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}


class TorchCheckpointError(ValueError):
    """Not a PyTorch checkpoint we can read, or one that references more than tensors."""


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(STORAGE_DTYPES[name])


class _StorageRef:
    """A storage named by a persistent id; `array` is filled in once its bytes are read."""

    def __init__(self, storage_type, key, numel):
        self.dtype = storage_type.dtype
        self.key = str(key)
        self.numel = int(numel)
        self.array = None


class _LazyTensor:
    """A tensor record: materialised as a NumPy array after the storages are read."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, int(offset), tuple(size), tuple(stride)

    def to_numpy(self):
        base = self.storage.array
        if base is None:
            raise TorchCheckpointError("storage %s has no data" % self.storage.key)
        if self.size and max(self.offset + sum((s - 1) * st for s, st in zip(self.size, self.stride)) + 1, 0) > base.size:
            raise TorchCheckpointError("tensor exceeds its storage %s" % self.storage.key)
        item = base.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(base[self.offset:], shape=self.size,
                                               strides=[s * item for s in self.stride]) if self.size else base[self.offset]
        return np.array(view)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    del requires_grad, backward_hooks, metadata
    if not isinstance(storage, _StorageRef):
        raise TorchCheckpointError("tensor record without a storage")
    return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    del requires_grad, backward_hooks
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storages):
        super().__init__(file, encoding="latin1")
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return _rebuild_parameter
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise TorchCheckpointError("refusing %s.%s: only tensors and OrderedDicts are read from PyTorch checkpoints"
                                   % (module, name))

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage" or not isinstance(pid[1], _StorageType):
            raise TorchCheckpointError("unsupported persistent id %r" % (pid[:2] if isinstance(pid, tuple) else pid,))
        key = str(pid[2])
        if key not in self.storages:
            self.storages[key] = _StorageRef(pid[1], key, pid[4])
        return self.storages[key]


def _materialise(obj):
    if isinstance(obj, _LazyTensor):
        return obj.to_numpy()
    if isinstance(obj, dict):
        out = collections.OrderedDict() if isinstance(obj, collections.OrderedDict) else {}
        for k, v in obj.items():
            out[k] = _materialise(v)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(v) for v in obj)
    return obj


def _read_zip(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise TorchCheckpointError("zip file without <prefix>/data.pkl: not a PyTorch checkpoint")
        prefix = pkl[0][:-len("data.pkl")]
        storages = {}
        obj = _Unpickler(io.BytesIO(z.read(pkl[0])), storages).load()
        for key, ref in storages.items():
            try:
                raw = z.read(prefix + "data/" + key)
            except KeyError:
                raise TorchCheckpointError("missing storage %sdata/%s" % (prefix, key)) from None
            if len(raw) < ref.numel * ref.dtype.itemsize:
                raise TorchCheckpointError("storage %s is truncated" % key)
            ref.array = np.frombuffer(raw, ref.dtype, count=ref.numel)
    return obj


def _read_legacy(data):
    f = io.BytesIO(data)

    def plain():
        return _Unpickler(f, {}).load()
    if plain() != LEGACY_MAGIC_NUMBER:
        raise TorchCheckpointError("not a PyTorch checkpoint (bad magic number)")
    if plain() != LEGACY_PROTOCOL_VERSION:
        raise TorchCheckpointError("unsupported legacy PyTorch protocol version")
    sys_info = plain()
    if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
        raise TorchCheckpointError("big-endian PyTorch checkpoints are not supported")
    storages = {}
    obj = _Unpickler(f, storages).load()
    keys = _Unpickler(f, {}).load()
    for key in keys:
        header = f.read(8)
        if len(header) != 8:
            raise TorchCheckpointError("storage %s is truncated" % key)
        numel, = struct.unpack("<q", header)
        ref = storages.get(str(key))
        itemsize = ref.dtype.itemsize if ref is not None else 1
        raw = f.read(numel * itemsize)
        if len(raw) != numel * itemsize:
            raise TorchCheckpointError("storage %s is truncated" % key)
        if ref is not None:
            ref.array = np.frombuffer(raw, ref.dtype, count=numel)
    return obj


def load_state_dict(data, source="<bytes>"):
    """{name: np.ndarray} (an OrderedDict in stored order) of a PyTorch checkpoint's bytes, either layout.

    A checkpoint holding {'state_dict': {...}} (a common wrapper) is unwrapped."""
    try:
        obj = _read_zip(data) if data[:4] == b"PK\x03\x04" else _read_legacy(data)
        obj = _materialise(obj)
    except TorchCheckpointError as e:
        raise TorchCheckpointError("%s: %s" % (source, e)) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            zipfile.BadZipFile, struct.error) as e:
        raise TorchCheckpointError("%s: not a readable PyTorch checkpoint (%s: %s)" % (source, type(e).__name__, e)) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
        raise TorchCheckpointError("%s: not a state dict of tensors" % source)
    return obj
