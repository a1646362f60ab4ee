"""Network pickles: official state layout, round trips, official-pickle loading, the restricted unpickler."""

import io
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dnnlib.tflib as tflib
from dnnlib.tflib.network import Network
from metrics import standins
from stylegan_tf import legacy

from conftest import ROOT, SMALL, randomize
from test_networks import official_d_vars, official_mapping_vars, official_synthesis_vars



def make_nets():
    G = tflib.Network("G", func_name="training.networks_stylegan.G_style", **SMALL)
    D = tflib.Network("D", func_name="training.networks_stylegan.D_basic", **SMALL)
    randomize(G, 1)
    randomize(D, 2)
    G.set_var("lod", 0.5)
    Gs = G.clone("Gs")
    return G, D, Gs


def test_state_layout():
    G, D, Gs = make_nets()
    state = G.__getstate__()
    assert list(state) == ["version", "name", "static_kwargs", "components", "build_module_src", "build_func_name",
                           "variables"]
    assert state["version"] == 3 and state["name"] == "G" and state["build_func_name"] == "G_style"
    assert state["build_module_src"] is None  # our pickles carry no code
    assert type(state["static_kwargs"]) is dict and state["static_kwargs"]["resolution"] == 32
    assert sorted(state["components"]) == ["mapping", "synthesis"]
    assert [name for name, _ in state["variables"]] == ["lod", "dlatent_avg"]
    assert isinstance(state["variables"][1][1], np.ndarray)
    syn = state["components"]["synthesis"].__getstate__()
    assert syn["build_func_name"] == "G_synthesis" and syn["name"] == "G_synthesis"
    assert D.__getstate__()["build_func_name"] == "D_basic"


@pytest.mark.slow
def test_round_trip_fresh_process_bit_exact(tmp_path, monkeypatch):
    # One upfirdn2d implementation in both processes ('auto' may pick the compiled op in one of them).
    monkeypatch.setenv("STYLEGAN_TF_UPFIRDN2D_IMPL", "ref")
    G, D, Gs = make_nets()
    pkl = str(tmp_path / "network-snapshot-000000.pkl")
    legacy.save_pkl((G, D, Gs), pkl)
    assert os.listdir(tmp_path) == ["network-snapshot-000000.pkl"]  # no temp files left behind
    rnd = np.random.RandomState(3)
    z = rnd.randn(4, 16).astype(np.float32)
    x = rnd.randn(4, 3, 32, 32).astype(np.float32)
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent("""
        import sys, numpy as np
        from training import misc
        G, D, Gs = misc.load_pkl(sys.argv[1])
        d = sys.argv[2]
        z, x = np.load(d + '/z.npy'), np.load(d + '/x.npy')
        np.save(d + '/gs.npy', Gs.run(z, None, randomize_noise=False, truncation_psi=0.7))
        np.save(d + '/g.npy', G.run(z, None, randomize_noise=False, truncation_psi=1))
        np.save(d + '/d.npy', D.run(x, None))
    """)
    subprocess.run([sys.executable, "-c", script, pkl, str(tmp_path)], check=True, cwd=ROOT)
    assert np.array_equal(np.load(tmp_path / "gs.npy"), Gs.run(z, None, randomize_noise=False, truncation_psi=0.7))
    assert np.array_equal(np.load(tmp_path / "g.npy"), G.run(z, None, randomize_noise=False, truncation_psi=1))
    assert np.array_equal(np.load(tmp_path / "d.npy"), D.run(x, None))


def test_plain_pickle_round_trip():
    G, D, Gs = make_nets()
    G2, D2, Gs2 = pickle.loads(pickle.dumps((G, D, Gs)))
    assert list(G2.vars) == list(G.vars) and G2.components.mapping.name == "G_mapping"
    for name in G.vars:
        assert np.array_equal(G.get_var(name), G2.get_var(name)), name
    assert G2.get_var("lod") == 0.5
    z = np.random.RandomState(4).randn(2, 16).astype(np.float32)
    assert np.array_equal(Gs2.run(z, None, randomize_noise=False), Gs.run(z, None, randomize_noise=False))


def official_state(name, func, variables, static_kwargs, components=None, seed=0):
    rnd = np.random.RandomState(seed)
    values = [(n, np.float32(rnd.randn()) if not shape else rnd.randn(*shape).astype(np.float32))
              for n, shape in variables]
    rnd.shuffle(values)  # the official order depends on the structure: loading must match by name
    return standins.OfficialPickledNetwork(dict(version=3, name=name, static_kwargs=static_kwargs, components=components or {},
                                 build_module_src="raise RuntimeError('pickled source must never run')\n",
                                 build_func_name=func, variables=values))


def official_objects():
    """(G, D, Gs) stand-ins in the official layout, from hand-listed official variable names."""
    kw = dict(SMALL)

    def g(name, seed):
        syn = official_state("G_synthesis", "G_synthesis", official_synthesis_vars(32, 128, 32, 16, 3), kw, seed=seed)
        mapping = official_state("G_mapping", "G_mapping", official_mapping_vars(2, 16, 16, 16),
                                 dict(kw, dlatent_broadcast=8), seed=seed + 1)
        return official_state(name, "G_style", [("lod", []), ("dlatent_avg", [16])], kw,
                              components=dict(synthesis=syn, mapping=mapping), seed=seed + 2)
    return g("G", 0), official_state("D", "D_basic", official_d_vars(32, 128, 32, 3), kw, seed=10), g("Gs", 20)


def official_pickle_bytes(protocol=2):
    """(G, D, Gs) as NVIDIA's 2019 pickles are laid out (protocol 2, NumPy 1.x module paths)."""
    return standins.official_pickle_bytes(official_objects(), protocol=protocol)


def test_official_layout_pickle_loads_and_runs(tmp_path):
    data = official_pickle_bytes()
    # NumPy 1.x wrote its arrays as numpy.core.multiarray._reconstruct, as the stand-in does.
    assert b"numpy.core.multiarray" in data and b"numpy._core" not in data
    path = tmp_path / "karras2019stylegan-test.pkl"
    path.write_bytes(data)
    G, D, Gs = legacy.load_pkl(str(path))
    assert isinstance(Gs, Network) and Gs.name == "Gs" and Gs._build_module_src is None
    assert set(Gs.components) == {"synthesis", "mapping"}
    # Values land under the official names, whatever their order in the pickle.
    state = official_objects()[2].state
    syn_state = state["components"]["synthesis"].state
    for name, value in syn_state["variables"]:
        assert np.array_equal(Gs.get_var("G_synthesis/" + name), value), name
    z = np.random.RandomState(5).randn(3, 16).astype(np.float32)
    img = Gs.run(z, None, randomize_noise=False, truncation_psi=0.7)
    assert img.shape == (3, 3, 32, 32) and np.all(np.isfinite(img))
    assert D.run(img, None).shape == (3, 1)


def test_mismatched_official_state_is_refused():
    kw = dict(SMALL)
    bad = official_state("D", "D_basic", official_d_vars(32, 128, 32, 3)[:-1], kw)
    with pytest.raises(pickle.UnpicklingError, match="missing"):
        legacy.load_pkl_from_file(io.BytesIO(pickle.dumps(bad)))
    unknown = official_state("D", "D_stylegan2", official_d_vars(32, 128, 32, 3), kw)
    with pytest.raises(pickle.UnpicklingError, match="D_stylegan2"):
        legacy.load_pkl_from_file(io.BytesIO(pickle.dumps(unknown)))


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.system, ("touch %s" % self.path,)


def test_malicious_pickle_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G": _Evil(str(marker))}))
    with pytest.raises(legacy.UnsafePickleError, match="posix.system|os.system"):
        legacy.load_pkl(str(path))
    assert not marker.exists()
    # A pickle smuggling an import through a "network" state is refused the same way.
    payload = official_pickle_bytes().replace(b"numpy.core.multiarray\n_reconstruct", b"subprocess\ncall")
    assert b"subprocess" in payload
    with pytest.raises(pickle.UnpicklingError):
        legacy.load_pkl_from_file(io.BytesIO(payload))


def test_bad_pickle_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pkl"):
        legacy.load_pkl(str(tmp_path / "missing.pkl"))
    G, D, Gs = make_nets()
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(pickle.dumps((G, D, Gs))[:1000])
    with pytest.raises(pickle.UnpicklingError, match="truncated.pkl"):
        legacy.load_pkl(str(truncated))
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"this is not a pickle")
    with pytest.raises(pickle.UnpicklingError, match="garbage.pkl"):
        legacy.load_pkl(str(garbage))


def test_save_pkl_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "network-snapshot-000001.pkl"
    path.write_bytes(b"previous good snapshot")

    class Boom:
        def __reduce__(self):
            raise RuntimeError("interrupted while pickling")
    with pytest.raises(RuntimeError):
        legacy.save_pkl((Boom(),), str(path))
    assert path.read_bytes() == b"previous good snapshot"
    assert os.listdir(tmp_path) == ["network-snapshot-000001.pkl"]


def test_func_name_spellings():
    kw = dict(SMALL)
    import stylegan_tf.networks_stylegan as nets
    for func in ["G_style", "training.networks_stylegan.G_style", "stylegan_tf.networks_stylegan.G_style",
                 nets.G_style]:
        G = tflib.Network("G", func_name=func, **kw)
        assert G._build_func_name == "G_style" and "G_mapping/Dense0/weight" in G.vars
    for func in ["G_paper", "training.networks_progan.G_paper"]:
        assert tflib.Network("G", func_name=func, **kw)._build_func_name == "G_paper"
    with pytest.raises(ValueError, match="unknown network build function"):
        tflib.Network("G", func_name="G_nonexistent", **kw)


def test_official_module_path_training_misc():
    """`training.misc` (the official path) re-exports the one loader and saver."""
    from training import misc
    assert misc.load_pkl is legacy.load_pkl and misc.save_pkl is legacy.save_pkl
    assert misc.UnsafePickleError is legacy.UnsafePickleError
