"""`Network`: the official dnnlib.tflib network wrapper, on TensorFlow 2 / Keras 3.

A Network owns a Keras model built by a build function (`G_style`, `D_basic`, ...) from static
keyword arguments, exposes its variables under the official relative names, runs it on NumPy
arrays (`run`) or tensors (`get_output_for`, usable inside `tf.function`), and pickles to the
official state layout. Unpickling never executes code stored in a pickle: the build function is
looked up by name among the registered builders (ours, and the official module paths mapped to them).
"""

from collections import OrderedDict
from typing import Any, Callable, Dict, List, Tuple, Union

import numpy as np
import tensorflow as tf

from .. import util
from . import tfutil

# Build functions by their short (official) name. The model packages register theirs when imported
# (`register_build_func`); a pickle loaded before any of them is imported finds them through the
# entry-point group below (declared in pyproject.toml), so this module names no model package.
BUILD_FUNC_ENTRY_POINTS = "dnnlib.tflib.build_funcs"
_registered_build_funcs: Dict[str, Callable] = {}
_import_handlers: List[Callable] = []
_entry_points_loaded = [False]


def import_handler(handler_func: Callable) -> Callable:
    """Decorator: register a function that rewrites pickled network state before it is loaded."""
    _import_handlers.append(handler_func)
    return handler_func


def register_build_func(func: Callable, name: str = None) -> Callable:
    """Make a build function loadable from pickles by its name (usable as a decorator)."""
    _registered_build_funcs[name or func.__name__] = func
    return func


def _registered(short: str) -> Callable:
    """The registered build function `short`, loading the installed packages' builders on a miss."""
    if short not in _registered_build_funcs and not _entry_points_loaded[0]:
        _entry_points_loaded[0] = True
        from importlib.metadata import entry_points
        for ep in entry_points(group=BUILD_FUNC_ENTRY_POINTS):
            register_build_func(ep.load(), ep.name)
    return _registered_build_funcs.get(short)


def _known() -> str:
    _registered("")
    return ", ".join(sorted(_registered_build_funcs))


def resolve_build_func(func_name: Union[str, Callable]) -> Callable:
    """Build function for a function object, a dotted module path (the official
    'training.networks_stylegan.G_style' included) or a registered short name ('G_style')."""
    if callable(func_name):
        return func_name
    if "." in func_name:
        return util.get_obj_by_name(func_name)
    func = _registered(func_name)
    if func is None:
        raise ValueError("unknown network build function %r (known: %s)" % (func_name, _known()))
    return func


def _resolve_pickled_build_func(name: str) -> Callable:
    """Like resolve_build_func, but only registered names: a pickle never chooses a module to import."""
    func = _registered(name.split(".")[-1])
    if func is None:
        raise ValueError("pickled network uses build function %r, which stylegan-tf does not provide "
                         "(known: %s; custom ones need dnnlib.tflib.register_build_func)" % (name, _known()))
    return func


def _qualified_name(func: Callable) -> str:
    return getattr(func, "__module__", "") + "." + getattr(func, "__name__", "")


class Network:
    """Generic network abstraction with the official dnnlib.tflib API.

    Args:
        name: network name ('G', 'D', 'Gs', 'G_synthesis', ...); prefixes component variables.
        func_name: build function: a function, 'G_style', or 'training.networks_stylegan.G_style'.
        static_kwargs: keyword arguments of the build function (fixed for the network's lifetime).
    Attributes:
        model: the Keras model holding the variables and computing the outputs.
        components: sub-networks (e.g. `mapping`, `synthesis` of G_style).
        own_vars / vars / trainables: OrderedDicts keyed by official relative variable names.
        input_names, input_shapes, input_shape, output_names, output_shapes, output_shape.
    """

    def __init__(self, name: str = None, func_name: Any = None, **static_kwargs):
        assert func_name is not None
        self._init_fields()
        func = resolve_build_func(func_name)
        if not callable(func):
            raise ValueError("network build function %r is not callable" % (func_name,))
        if _registered_build_funcs.get(getattr(func, "__name__", None)) is not func:
            register_build_func(func)
        self.name = name if name is not None else func.__name__
        self.static_kwargs = util.EasyDict(static_kwargs)
        self._build_func = func
        self._build_func_name = func.__name__
        self._init_graph()

    def _init_fields(self) -> None:
        self.name = None
        self.scope = None
        self.static_kwargs = util.EasyDict()
        self.components = util.EasyDict()
        self.model = None
        self.num_inputs = 0
        self.num_outputs = 0
        self.input_names = []
        self.output_names = []
        self.input_shapes = [[]]
        self.output_shapes = [[]]
        self.input_shape = []
        self.output_shape = []
        self.own_vars = OrderedDict()
        self.vars = OrderedDict()
        self.trainables = OrderedDict()
        self._build_func = None
        self._build_func_name = None
        self._build_module_src = None
        self._run_cache = dict()

    def _init_graph(self) -> None:
        """Build the Keras model (creating all variables) and index inputs, outputs and variables."""
        self.scope = self.name
        self.model = self._build_func(components=self.components, name=self.name, **self.static_kwargs)
        if any(not isinstance(comp, Network) for comp in self.components.values()):
            raise ValueError("components of a Network must be Networks themselves")
        self.input_names = list(self.model.input_names)
        self.output_names = list(self.model.output_names)
        self.input_shapes = [list(s) for s in self.model.input_shapes]
        self.output_shapes = [list(s) for s in self.model.output_shapes]
        self.num_inputs = len(self.input_names)
        self.num_outputs = len(self.output_names)
        self.input_shape = self.input_shapes[0]
        self.output_shape = self.output_shapes[0]
        self.own_vars = OrderedDict(self.model.named_variables(include_components=False))
        self.vars = OrderedDict(self.own_vars)
        for comp in self.components.values():
            self.vars.update((comp.name + "/" + name, var) for name, var in comp.vars.items())
        self.trainables = OrderedDict((name, var) for name, var in self.vars.items() if var.trainable)
        self._run_cache = dict()

    # ------------------------------------------------------------------------
    # Variables.

    @property
    def build_func_name(self) -> str:
        """Short name of the build function ('G_style', 'D_basic', ...), as pickles store it."""
        return self._build_func_name

    def reset_own_vars(self) -> None:
        """Re-initialise this network's own variables (not those of components)."""
        self.model.reinitialize(include_children=True)

    def reset_vars(self) -> None:
        """Re-initialise all variables, components included."""
        self.reset_own_vars()
        for comp in self.components.values():
            comp.reset_vars()

    def reset_trainables(self) -> None:
        """Re-initialise all trainable variables, components included; non-trainables are kept."""
        keep = {name: var.numpy() for name, var in self.vars.items() if not var.trainable}
        self.reset_vars()
        for name, value in keep.items():
            self.vars[name].assign(value)

    def find_var(self, var_or_local_name: Any) -> Any:
        """Variable by local name (or the variable itself)."""
        if isinstance(var_or_local_name, str):
            if var_or_local_name not in self.vars:
                raise KeyError("network %r has no variable %r" % (self.name, var_or_local_name))
            return self.vars[var_or_local_name]
        return var_or_local_name

    def get_var_local_name(self, var: Any) -> str:
        """Local name of a variable of this network."""
        for name, v in self.vars.items():
            if v is var:
                return name
        raise KeyError("variable does not belong to network %r" % self.name)

    def get_var(self, var_or_local_name: Any) -> np.ndarray:
        """Value of a variable as NumPy."""
        return self.find_var(var_or_local_name).numpy()

    def set_var(self, var_or_local_name: Any, new_value: Union[int, float, np.ndarray]) -> None:
        """Assign a value to a variable."""
        var = self.find_var(var_or_local_name)
        value = np.asarray(new_value, dtype=np.float32)
        if tuple(value.shape) != tuple(var.shape):
            raise ValueError("cannot set %r of shape %s to a value of shape %s"
                             % (var_or_local_name, tuple(var.shape), value.shape))
        var.assign(value)

    def copy_own_vars_from(self, src_net: "Network") -> None:
        """Copy values of the variables both networks own (by name), excluding components."""
        for name, var in self.own_vars.items():
            if name in src_net.own_vars:
                var.assign(src_net.own_vars[name])

    def copy_vars_from(self, src_net: "Network") -> None:
        """Copy values of all variables present in both networks (by name)."""
        for name, var in self.vars.items():
            if name in src_net.vars:
                var.assign(src_net.vars[name])

    def copy_trainables_from(self, src_net: "Network") -> None:
        """Copy values of all trainable variables present in both networks (by name)."""
        for name, var in self.trainables.items():
            if name in src_net.trainables:
                var.assign(src_net.trainables[name])

    def setup_as_moving_average_of(self, src_net: "Network", beta: Any = 0.99, beta_nontrainable: Any = 0.0) -> Callable:
        """Return a function that moves this network's variables towards `src_net`'s:
        var = lerp(src, var, beta) for trainables and lerp(src, var, beta_nontrainable) otherwise.
        Call it after each training step (eagerly or inside `tf.function`); `beta` may be a tensor."""
        pairs = [(var, src_net.vars[name], name in self.trainables) for name, var in self.vars.items()
                 if name in src_net.vars]

        def update(beta=beta, beta_nontrainable=beta_nontrainable):
            for var, src, trainable in pairs:
                b = beta if trainable else beta_nontrainable
                var.assign(src + (var - src) * b)
        return update

    # ------------------------------------------------------------------------
    # Construction of related networks.

    def clone(self, name: str = None, **new_static_kwargs) -> "Network":
        """A new network with the same build function and kwargs (updated) and a copy of the variables."""
        net = object.__new__(Network)
        net._init_fields()
        net.name = name if name is not None else self.name
        net.static_kwargs = util.EasyDict(self.static_kwargs)
        net.static_kwargs.update(new_static_kwargs)
        net._build_func = self._build_func
        net._build_func_name = self._build_func_name
        net._build_module_src = self._build_module_src
        net._init_graph()
        net.copy_vars_from(self)
        return net

    def convert(self, new_func_name: Any, new_name: str = None, **new_static_kwargs) -> "Network":
        """A new network built by another build function (or kwargs), with all matching variables copied."""
        static_kwargs = dict(self.static_kwargs)
        static_kwargs.update(new_static_kwargs)
        net = Network(name=new_name if new_name is not None else self.name, func_name=new_func_name, **static_kwargs)
        net.copy_vars_from(self)
        return net

    # ------------------------------------------------------------------------
    # Evaluation.

    def _complete_inputs(self, inputs: Tuple[Any, ...]) -> List[tf.Tensor]:
        """Inputs given as None become zeros of the right shape (as in the official code)."""
        if len(inputs) != self.num_inputs:
            raise ValueError("network %r takes %d inputs (%s), got %d"
                             % (self.name, self.num_inputs, ", ".join(self.input_names), len(inputs)))
        valid = [x for x in inputs if x is not None]
        if not valid:
            raise ValueError("network %r: at least one input must be given" % self.name)
        batch = tf.shape(valid[0])[0]
        return [tf.zeros(tf.stack([batch] + shape[1:]), tf.float32) if x is None else x
                for x, shape in zip(inputs, self.input_shapes)]

    def get_output_for(self, *in_expr: Any, return_as_list: bool = False, **dynamic_kwargs) -> Any:
        """Output tensor(s) for input tensor(s); dynamic kwargs override the static ones for this call."""
        out = self.model(*self._complete_inputs(in_expr), **dynamic_kwargs)
        if return_as_list:
            return list(out) if isinstance(out, (tuple, list)) else [out]
        return out

    def run(self, *in_arrays: Any, input_transform: dict = None, output_transform: dict = None,
            return_as_list: bool = False, print_progress: bool = False, minibatch_size: int = None,
            num_gpus: int = 1, assume_frozen: bool = False, **dynamic_kwargs) -> Any:
        """Evaluate on NumPy arrays minibatch by minibatch and return NumPy array(s).

        `input_transform` / `output_transform` are dicts {'func': f, **kwargs} applied to the
        input / output tensors (e.g. `dict(func=tflib.convert_images_to_uint8)`). `num_gpus` and
        `assume_frozen` are accepted for compatibility; devices follow TensorFlow's placement.
        """
        if len(in_arrays) != self.num_inputs:
            raise ValueError("network %r takes %d inputs (%s), got %d"
                             % (self.name, self.num_inputs, ", ".join(self.input_names), len(in_arrays)))
        output_transform, dynamic_kwargs = _handle_legacy_output_transforms(output_transform, dynamic_kwargs)
        valid = [x for x in in_arrays if x is not None]
        if not valid:
            raise ValueError("network %r: at least one input must be given" % self.name)
        num_items = valid[0].shape[0]
        minibatch_size = num_items if minibatch_size is None else minibatch_size

        key = repr(_unwind_key(dict(input_transform=input_transform, output_transform=output_transform,
                                    dynamic_kwargs=dynamic_kwargs)))
        if key not in self._run_cache:
            self._run_cache[key] = self._make_run_func(input_transform, output_transform, dynamic_kwargs)
        func = self._run_cache[key]

        out_arrays = None
        for mb_begin in range(0, num_items, max(minibatch_size, 1)):
            if print_progress:
                print("\r%d / %d" % (mb_begin, num_items), end="")
            mb_end = min(mb_begin + minibatch_size, num_items)
            mb_in = [np.zeros([mb_end - mb_begin] + shape[1:], np.float32) if src is None
                     else np.asarray(src[mb_begin:mb_end], np.float32)
                     for src, shape in zip(in_arrays, self.input_shapes)]
            mb_out = [x.numpy() for x in func(*mb_in)]
            if out_arrays is None:
                out_arrays = [np.empty([num_items] + list(x.shape[1:]), x.dtype) for x in mb_out]
            for dst, src in zip(out_arrays, mb_out):
                dst[mb_begin:mb_end] = src
        if out_arrays is None:
            out_arrays = [np.empty([0] + [d or 0 for d in shape[1:]], np.float32) for shape in self.output_shapes]
        if print_progress:
            print("\r%d / %d" % (num_items, num_items))
        if not return_as_list:
            return out_arrays[0] if len(out_arrays) == 1 else tuple(out_arrays)
        return out_arrays

    def _make_run_func(self, input_transform, output_transform, dynamic_kwargs) -> Callable:
        signature = [tf.TensorSpec([None] + shape[1:], tf.float32) for shape in self.input_shapes]

        @tf.function(input_signature=signature, reduce_retracing=True)
        def func(*inputs):
            inputs = list(inputs)
            if input_transform is not None:
                kwargs = dict(input_transform)
                inputs = kwargs.pop("func")(*inputs, **kwargs)
                inputs = [inputs] if tf.is_tensor(inputs) else list(inputs)
            outputs = self.get_output_for(*inputs, return_as_list=True, **dynamic_kwargs)
            if output_transform is not None:
                kwargs = dict(output_transform)
                outputs = kwargs.pop("func")(*outputs, **kwargs)
                outputs = [outputs] if tf.is_tensor(outputs) else list(outputs)
            return outputs
        return func

    # ------------------------------------------------------------------------
    # Reporting.

    def list_layers(self) -> List[Tuple[str, Any, List[Any]]]:
        """(layer name, output shape, trainable variables) per layer, for reporting; a component
        network's layers are listed under its name, as in the official table."""
        self._trace_shapes()
        layers = []
        for name, var in self.model.named_variables(include_components=False):
            if "/" not in name:
                layers.append((name, list(var.shape), [var] if var.trainable else []))
        comp_nets = {id(comp.model): comp for comp in self.components.values()}
        layers.extend(self.model.layer_rows(
            lambda child: comp_nets[id(child)].list_layers() if id(child) in comp_nets else None))
        return layers

    def _trace_shapes(self) -> None:
        """Trace the network once symbolically (like the official template graph: 'linear' unless built
        'fixed') so that every layer records its output shape."""
        signature = [tf.TensorSpec([None] + shape[1:], tf.float32) for shape in self.input_shapes]
        structure = "fixed" if self.static_kwargs.get("structure") == "fixed" else "linear"
        tf.function(lambda *x: self.get_output_for(*x, structure=structure)).get_concrete_function(*signature)

    def print_layers(self, title: str = None, hide_layers_with_no_params: bool = False) -> None:
        """Print a table of layers with Params / OutputShape / WeightShape and the trainable total."""
        rows = [[title if title is not None else self.name, "Params", "OutputShape", "WeightShape"]]
        rows += [["---"] * 4]
        total_params = 0
        for layer_name, output_shape, trainables in self.list_layers():
            num_params = int(sum(np.prod(var.shape) for var in trainables))
            weights = [var for var in trainables if var.name == "weight"]
            if not weights and len(trainables) == 1:
                weights = trainables
            total_params += num_params
            if hide_layers_with_no_params and num_params == 0:
                continue
            shape_str = "-" if output_shape is None else str(tuple(output_shape)).replace("None", "?")
            rows += [[layer_name, str(num_params) if num_params else "-", shape_str,
                      str(tuple(weights[0].shape)) if weights else "-"]]
        rows += [["---"] * 4]
        rows += [["Total", str(total_params), "", ""]]
        widths = [max(len(cell) for cell in column) for column in zip(*rows)]
        print()
        for row in rows:
            print("  ".join(cell + " " * (width - len(cell)) for cell, width in zip(row, widths)))
        print()

    # ------------------------------------------------------------------------
    # Pickling, in the official state layout.

    def __getstate__(self) -> dict:
        return {
            "version": 3,
            "name": self.name,
            "static_kwargs": dict(self.static_kwargs),
            "components": dict(self.components),
            "build_module_src": self._build_module_src,
            "build_func_name": self._build_func_name,
            "variables": [(name, var.numpy()) for name, var in self.own_vars.items()],
        }

    def __setstate__(self, state: dict) -> None:
        self._init_fields()
        for handler in _import_handlers:
            state = handler(state)
        if state.get("version") not in (2, 3):
            raise ValueError("unsupported network pickle version %r (StyleGAN v1 writes 3; StyleGAN2 writes 4)"
                             % state.get("version"))
        self.name = state["name"]
        self.static_kwargs = util.EasyDict(state["static_kwargs"])
        self.components = util.EasyDict(state.get("components", {}))
        self._build_func_name = state["build_func_name"]
        self._build_func = _resolve_pickled_build_func(self._build_func_name)
        self._build_module_src = None  # never kept, never executed
        self._init_graph()
        values = dict(state["variables"])
        missing = [name for name in self.own_vars if name not in values]
        unexpected = [name for name in values if name not in self.own_vars]
        if missing or unexpected:
            raise ValueError("pickled network %r (%s) does not match its build function: missing %s, unexpected %s"
                             % (self.name, self._build_func_name, missing[:5], unexpected[:5]))
        for name, var in self.own_vars.items():
            value = np.asarray(values[name], dtype=np.float32)
            if tuple(value.shape) != tuple(var.shape):
                raise ValueError("pickled network %r: variable %r has shape %s, expected %s"
                                 % (self.name, name, value.shape, tuple(var.shape)))
            var.assign(value)

    def __repr__(self) -> str:
        return "<Network %r (%s)>" % (self.name, self._build_func_name)


def _unwind_key(obj: Any) -> Any:
    """Hashable description of run() arguments (functions by qualified name)."""
    if isinstance(obj, dict):
        return [(k, _unwind_key(v)) for k, v in sorted(obj.items())]
    if isinstance(obj, (list, tuple)):
        return [_unwind_key(v) for v in obj]
    if callable(obj):
        return _qualified_name(obj)
    if tf.is_tensor(obj):
        return ("tensor", id(obj))
    return obj


# ----------------------------------------------------------------------------
# Legacy output transformations of Network.run() (out_mul, out_add, out_shrink, out_dtype).

_LEGACY_KWARGS = ("out_mul", "out_add", "out_shrink", "out_dtype")


def _handle_legacy_output_transforms(output_transform, dynamic_kwargs):
    if not any(k in dynamic_kwargs for k in _LEGACY_KWARGS):
        return output_transform, dynamic_kwargs
    if output_transform is not None:
        raise ValueError("give either output_transform or the legacy out_* arguments, not both")
    new_kwargs = dict(dynamic_kwargs)
    transform = {k: new_kwargs.pop(k) for k in _LEGACY_KWARGS if k in dynamic_kwargs}
    transform["func"] = _legacy_output_transform_func
    return transform, new_kwargs


def _legacy_output_transform_func(*expr, out_mul=1.0, out_add=0.0, out_shrink=1, out_dtype=None):
    expr = [x * out_mul + out_add for x in expr]
    if out_shrink > 1:
        expr = [tfutil.avg_pool_nchw(x, out_shrink) for x in expr]
    if out_dtype is not None:
        if tf.as_dtype(out_dtype).is_integer:
            expr = [tf.round(x) for x in expr]
        expr = [tf.saturate_cast(x, out_dtype) for x in expr]
    return expr
