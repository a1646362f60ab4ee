"""stylegan-tf: StyleGAN v1 on TensorFlow 2 / Keras 3. Importing the package is light (NumPy only);
networks live in `stylegan_tf.networks_stylegan`, the helpers for trained generators in `stylegan_tf.api`."""

from stylegan_tf.api import (dlatent_avg, generate, get_noise, latents_from_seeds, load_generator, load_networks,
                             map_latents, mix_styles, noise_shapes, override_noise, random_noise, style_ranges,
                             synthesize, truncate)


# ----------------------------------------------------------------------------
# Keras serialization: `keras.saving.load_model("g.keras")` needs our model classes registered with Keras
# (stylegan_tf.networks_stylegan and .networks_progan do that when imported). Importing them here would
# make `import stylegan_tf` import TensorFlow, so they are imported as soon as TensorFlow and Keras have
# both finished importing: now if they already have, otherwise right after the outermost of the two.


def _register_keras_classes():
    import importlib
    import warnings
    for name in ("stylegan_tf.networks_stylegan", "stylegan_tf.networks_progan"):
        try:
            importlib.import_module(name)
        except Exception as e:  # never break the user's `import keras`; load_model will then name the class
            warnings.warn("stylegan_tf: could not register the Keras model classes (%s: %s)" % (type(e).__name__, e))
            return


def _install_keras_hook():
    import importlib.abc
    import sys

    watched = ("tensorflow", "keras")
    state = dict(depth=0, done=False)

    def ours_mid_import():
        """TensorFlow imported from inside one of our modules (e.g. dnnlib.tflib.network, on the first
        load_generator): registering now would import a half-initialised module. Our network modules are
        imported by whatever loads a network, and register their classes then."""
        return any(getattr(getattr(m, "__spec__", None), "_initializing", False)
                   for name, m in list(sys.modules.items()) if name.split(".")[0] in ("dnnlib", "stylegan_tf")
                   and name != "stylegan_tf")

    def maybe_register():
        if state["done"] or state["depth"] or not all(m in sys.modules for m in watched):
            return
        if ours_mid_import():
            state["done"] = True
            if hook in sys.meta_path:
                sys.meta_path.remove(hook)
            return
        state["done"] = True
        if hook in sys.meta_path:
            sys.meta_path.remove(hook)
        _register_keras_classes()

    class Hook(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):
            if fullname not in watched or state["done"]:
                return None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
            loader = spec.loader
            if loader is None or not hasattr(loader, "exec_module"):
                return spec
            exec_module = loader.exec_module

            def exec_and_register(module):
                state["depth"] += 1
                try:
                    exec_module(module)
                finally:
                    state["depth"] -= 1
                maybe_register()
            loader.exec_module = exec_and_register
            return spec

    hook = Hook()
    if all(m in sys.modules for m in watched):
        # Imported already (or being imported: then the classes register when our own modules are imported).
        keras_module = sys.modules["keras"]
        if getattr(keras_module, "saving", None) is not None:
            _register_keras_classes()
        return
    sys.meta_path.insert(0, hook)


_install_keras_hook()
