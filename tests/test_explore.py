"""explore.py: the page's logic (stylegan_tf.explorer), the real server driven through gradio_client (every
endpoint, bad uploads, start-up errors) and a headless Chromium (page loads, the seed changes the image).

The server runs in a subprocess on a free 127.0.0.1 port, on a tiny conditional generator with random
weights (noise strengths too, so that the noise controls matter) in a run directory of two snapshots,
with two editing directions and stand-in LPIPS weights."""

import io
import os
import socket
import subprocess
import sys
import time
import zlib
import struct

import numpy as np
import PIL.Image
import pytest

from conftest import ROOT, SMALL, randomize

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
NUM_CLASSES = 3


def make_generator(path, seed):
    """A tiny class-conditional Gs with every variable random (images in range: ToRGB scaled down)."""
    import dnnlib.tflib as tflib
    from stylegan_tf import legacy
    Gs = tflib.Network("Gs", func_name="training.networks_stylegan.G_style", label_size=NUM_CLASSES, **SMALL)
    randomize(Gs, seed)
    for name, var in Gs.vars.items():
        if "ToRGB" in name and name.endswith("weight"):
            var.assign(var * 0.1)
    legacy.save_pkl(Gs, path)
    return Gs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from metrics import standins
    from stylegan_tf import directions
    tmp = tmp_path_factory.mktemp("explore")
    run = tmp / "00000-sgan-test"
    run.mkdir()
    make_generator(str(run / "network-snapshot-000000.pkl"), seed=1)
    make_generator(str(run / "network-snapshot-000001.pkl"), seed=2)
    (tmp / "dirs").mkdir()
    rnd = np.random.RandomState(0)
    for name in ("alpha", "beta"):
        directions.save_direction(str(tmp / "dirs" / (name + ".npy")), rnd.randn(SMALL["dlatent_size"]))
    standins.make_lpips_weights(str(tmp / "lpips.npz"))
    return tmp


@pytest.fixture(scope="module")
def explorer_latest(files):
    """The page's logic on the snapshot the server shows by default (the latest), in this process."""
    from stylegan_tf import api, explorer
    Gs = api.load_generator(str(files / "00000-sgan-test" / "network-snapshot-000001.pkl"))
    return explorer.Explorer(Gs, explorer.load_directions(str(files / "dirs"), Gs))


def start_server(args, port):
    env = dict(os.environ, PYTHONUNBUFFERED="1", GRADIO_ANALYTICS_ENABLED="False")
    return subprocess.Popen([sys.executable, os.path.join(ROOT, "explore.py"), "--port", str(port)] + args,
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.fixture(scope="module")
def server(files):
    """(url, process) of explore.py on the run directory, with directions and LPIPS."""
    port = free_port()
    proc = start_server(["--network", str(files / "00000-sgan-test"), "--directions", str(files / "dirs"),
                         "--lpips", str(files / "lpips.npz"), "--max_upload_mb", "4"], port)
    line = proc.stdout.readline()   # the one line printed once the page is served
    if not line.startswith("explore:"):
        proc.kill()
        pytest.fail("explore.py did not start: %r %s" % (line, proc.stderr.read()[-3000:]))
    url = "http://127.0.0.1:%d/" % port
    assert url in line
    yield url, proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client
    return Client(server[0], verbose=False)


def controls(seed=0, psi=0.7, cutoff=8, class_idx=0, noise_mode="const", noise_layers="all", seed_b=1, mix=(),
             edit_layers="all", use_projection=False, alpha=0.0, beta=0.0, snapshot="network-snapshot-000001.pkl"):
    """The /render and /export inputs, in the page's order (the direction sliders last, by name)."""
    return [snapshot, seed, psi, cutoff, class_idx, noise_mode, noise_layers, seed_b, list(mix), edit_layers,
            use_projection, alpha, beta]


def render(client, **kwargs):
    """(current, A, B) uint8 arrays and the status line from /render."""
    out = client.predict(*controls(**kwargs), api_name="/render")
    return [np.asarray(PIL.Image.open(p)) for p in out[:3]] + [out[3]]


def assert_alive(client):
    image = render(client, seed=7)[0]
    assert image.shape == (32, 32, 3)


# ----------------------------------------------------------------------------
# The page's logic, in-process.


def test_presets_views_and_noise_match_generate(explorer_latest):
    import generate
    from stylegan_tf import api, explorer
    ex = explorer_latest
    assert explorer.preset_layers("coarse", 8) == [0, 1] and explorer.preset_layers("fine", 8) == [6, 7]
    assert explorer.preset_layers("all", 8) == list(range(8)) and explorer.preset_layers("none", 8) == []
    assert explorer.layer_choices(4) == [("0 (4)", 0), ("1 (4)", 1), ("2 (8)", 2), ("3 (8)", 3)]
    for a, b in zip(explorer.seed_noise(ex.Gs, 5), generate.seed_noise(ex.Gs, 5)):  # same noise as generate.py
        np.testing.assert_array_equal(a, b)
    for bad in (dict(seed=-1), dict(psi=3), dict(cutoff=9), dict(noise_mode="loud"), dict(class_idx=3),
                dict(strengths={"gamma": 1}), dict(mix_layers=[8]), dict(w=np.zeros([3, 16]))):
        with pytest.raises(explorer.ExploreError):
            ex.render(explorer.View(**bad))
    # The current w is what the page shows: mapping, truncation, mixing and edit by hand give the same.
    view = explorer.View(seed=3, psi=0.5, cutoff=4, class_idx=2, seed_b=9, mix_layers=[6, 7], strengths={"beta": 2},
                         edit_layers="coarse")
    out = ex.render(view)
    labels = np.eye(NUM_CLASSES, dtype=np.float32)[[2, 2]]
    w = api.truncate(api.map_latents(ex.Gs, api.latents_from_seeds(ex.Gs, [3, 9]), labels), api.dlatent_avg(ex.Gs),
                     0.5, 4)
    w = api.mix_styles(w[0:1], w[1:2], [6, 7])
    w[:, 0:2] += 2 * ex.directions["beta"][0:2]
    np.testing.assert_allclose(out.w, w[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(out.image, api.synthesize(ex.Gs, w)[0])


def test_read_upload_limits(tmp_path):
    from stylegan_tf import explorer
    PIL.Image.fromarray(np.full([40, 60, 4], 200, np.uint8), "RGBA").save(tmp_path / "ok.png")
    image = explorer.read_upload(str(tmp_path / "ok.png"), 32, 3)
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert explorer.read_upload(str(tmp_path / "ok.png"), 16, 1).shape == (16, 16, 1)
    bad = bad_uploads(tmp_path)
    for name, expected in (("text", "not an image"), ("huge", "pixels"), ("truncated", "could not be decoded")):
        with pytest.raises(explorer.ExploreError, match=expected):
            explorer.read_upload(bad[name], 32, 3)
    with pytest.raises(explorer.ExploreError, match="limit is"):
        explorer.read_upload(str(tmp_path / "ok.png"), 32, 3, max_bytes=10)


def png_bytes(width, height):
    """A valid grayscale PNG of width x height black pixels, compressed row by row (a 20000x20000 image is
    ~0.4 MB, made in a second without holding 400 MB)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    comp = zlib.compressobj(9)
    row = b"\0" * (width + 1)
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def bad_uploads(tmp_path):
    """Paths of: a text file named .png, a 20000x20000 PNG, a JPEG cut in half."""
    paths = dict(text=tmp_path / "notes.png", huge=tmp_path / "huge.png", truncated=tmp_path / "cut.jpg")
    paths["text"].write_text("not an image\n" * 100)
    paths["huge"].write_bytes(png_bytes(20000, 20000))
    buf = io.BytesIO()
    PIL.Image.fromarray(np.random.RandomState(0).randint(0, 255, [64, 64, 3]).astype(np.uint8)).save(buf, "JPEG")
    paths["truncated"].write_bytes(buf.getvalue()[:len(buf.getvalue()) // 2])
    return {k: str(v) for k, v in paths.items()}


# ----------------------------------------------------------------------------
# The command line, without a server.


def test_registered_and_safe_defaults():
    import explore
    import stylegan_tf_cli
    assert stylegan_tf_cli.TOOLS["explore"][0] == "explore:command"
    params = {p.name: p.default for p in explore.command.params}
    assert params["host"] == "127.0.0.1" and params["share"] is False   # local only, no public link


def test_without_gradio_one_line(tmp_path):
    """No gradio installed: one line saying how to install it, exit status 1, and --help still works."""
    pkl = tmp_path / "g.pkl"
    pkl.write_bytes(b"x")
    code = ("import sys; sys.modules['gradio'] = None; sys.path.insert(0, %r); import explore; "
            "explore.main(sys.argv[1:])" % ROOT)
    res = subprocess.run([sys.executable, "-c", code, "--network", str(pkl)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 1, res.stderr
    assert res.stderr.count("\n") == 1 and "pip install 'stylegan-tf[ui]'" in res.stderr, res.stderr
    res = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "--network" in res.stdout and "--share" in res.stdout


@pytest.mark.slow
def test_bad_directions_fail_at_startup(files, tmp_path):
    """A wrong-shaped direction: one line naming the file and its shape, exit status 1, nothing served."""
    bad = tmp_path / "dirs"
    bad.mkdir()
    np.save(bad / "smile.npy", np.ones([SMALL["dlatent_size"] + 1], np.float32))
    proc = start_server(["--network", str(files / "00000-sgan-test" / "network-snapshot-000000.pkl"),
                         "--directions", str(bad)], free_port())
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 1 and out == "", (out, err)
    assert err.count("\n") == 1 and err.startswith("explore.py: error: --directions"), err
    assert "smile.npy" in err and "shape [17]" in err, err


@pytest.mark.parametrize("case", ["not_npy", "empty", "missing"])
def test_bad_directions_directory(explorer_latest, tmp_path, case):
    """The other bad directories fail the same way (the one reader: explorer.load_directions)."""
    from stylegan_tf import directions, explorer
    if case != "missing":
        (tmp_path / "d").mkdir()
    if case == "not_npy":
        (tmp_path / "d" / "smile.npy").write_text("hello")
    with pytest.raises(directions.DirectionError, match={"not_npy": "smile.npy: not a .npy", "empty": "no .npy",
                                                         "missing": "no such directory"}[case]):
        explorer.load_directions(str(tmp_path / "d"), explorer_latest.Gs)


# ----------------------------------------------------------------------------
# The server, through gradio_client.


@pytest.mark.slow
def test_endpoints_named(client):
    names = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert {"/render", "/export", "/random_seed", "/mix_preset", "/project"} <= names, names


@pytest.mark.slow
def test_render_content(client, explorer_latest):
    from stylegan_tf import explorer
    image, a, b, status = render(client, seed=3, seed_b=4)
    assert image.shape == a.shape == b.shape == (32, 32, 3) and "seed 3" in status
    np.testing.assert_array_equal(image, a)                          # no layers from B: the image is A
    np.testing.assert_array_equal(image, explorer_latest.render(explorer.View(seed=3, seed_b=4, cutoff=8)).image)
    assert not np.array_equal(image, render(client, seed=5, seed_b=4)[0])
    # psi = 0 on every layer: the average w, the same image for every seed.
    same = [render(client, seed=s, psi=0.0, cutoff=8)[0] for s in (0, 17, 123456)]
    assert all(np.array_equal(same[0], x) for x in same[1:]) and same[0].std() > 0
    # Style mixing: all layers from B is B; coarse from B is neither; the presets are the paper's groups.
    mixed, a, b, _ = render(client, seed=3, seed_b=4, mix=range(8))
    np.testing.assert_array_equal(mixed, b)
    coarse = client.predict("coarse", api_name="/mix_preset")
    assert coarse == [0, 1]
    mixed = render(client, seed=3, seed_b=4, mix=coarse)[0]
    assert not np.array_equal(mixed, a) and not np.array_equal(mixed, b)
    np.testing.assert_array_equal(mixed, explorer_latest.render(
        explorer.View(seed=3, seed_b=4, mix_layers=[0, 1])).image)
    # Noise: none differs from const; const on no layers is none; random is the seed's, reproducibly.
    const, none = render(client, seed=3)[0], render(client, seed=3, noise_mode="none")[0]
    assert not np.array_equal(const, none)
    np.testing.assert_array_equal(none, render(client, seed=3, noise_layers="none")[0])
    fine_only = render(client, seed=3, noise_layers="fine")[0]
    assert not np.array_equal(fine_only, const) and not np.array_equal(fine_only, none)
    rand = render(client, seed=3, noise_mode="random")[0]
    np.testing.assert_array_equal(rand, render(client, seed=3, noise_mode="random")[0])
    np.testing.assert_array_equal(rand, explorer_latest.render(explorer.View(seed=3, noise_mode="random")).image)
    # Class, directions (on their layers), snapshots.
    assert not np.array_equal(const, render(client, seed=3, class_idx=2)[0])
    edited = render(client, seed=3, alpha=4.0, edit_layers="coarse")[0]
    assert not np.array_equal(edited, const)
    np.testing.assert_array_equal(edited, explorer_latest.render(
        explorer.View(seed=3, strengths={"alpha": 4.0}, edit_layers="coarse")).image)
    older = render(client, seed=3, snapshot="network-snapshot-000000.pkl")[0]
    assert older.shape == const.shape and not np.array_equal(older, const)
    seed = client.predict(api_name="/random_seed")
    assert isinstance(seed, int) and 0 <= seed < 2 ** 32


@pytest.mark.slow
def test_export_is_read_by_generate(client, tmp_path, files):
    import generate
    from dnnlib import cli
    png, npz = client.predict(*controls(seed=11, psi=0.6, seed_b=2, mix=[4, 5], beta=-3.0), api_name="/export")
    image = np.asarray(PIL.Image.open(png))
    np.testing.assert_array_equal(image, render(client, seed=11, psi=0.6, seed_b=2, mix=[4, 5], beta=-3.0)[0])
    with np.load(npz) as data:
        assert data["w"].shape == (1, 8, SMALL["dlatent_size"]) and int(data["seed"]) == 11
    code = cli.run(generate.command, ["--network", str(files / "00000-sgan-test" / "network-snapshot-000001.pkl"),
                                      "--w", npz, "--outdir", str(tmp_path)], prog_name="generate.py")
    assert code == 0
    np.testing.assert_array_equal(np.asarray(PIL.Image.open(tmp_path / "w0000.png")), image)


@pytest.mark.slow
def test_project_then_use_as_latent(client, tmp_path):
    from gradio_client import handle_file
    target = render(client, seed=21, psi=1.0)[0]
    PIL.Image.fromarray(target).save(tmp_path / "target.png")
    status, shown_target, projection, use, psi, = client.predict(
        "network-snapshot-000001.pkl", handle_file(str(tmp_path / "target.png")), "w+", 5, api_name="/project")
    assert "LPIPS" in status and use is True and psi == 1.0, status
    np.testing.assert_array_equal(np.asarray(PIL.Image.open(shown_target)), target)
    projection = np.asarray(PIL.Image.open(projection))
    assert projection.shape == (32, 32, 3)
    # The projection is now latent A (the session's state): the page redraws exactly the projection.
    current = render(client, psi=1.0, use_projection=True)[0]
    np.testing.assert_array_equal(current, projection)
    # A refused upload afterwards leaves the projection in place.
    refused = client.predict("network-snapshot-000001.pkl", handle_file(bad_uploads(tmp_path)["text"]), "w", 5,
                             api_name="/project")
    assert refused[0].startswith("Upload refused:")
    np.testing.assert_array_equal(render(client, psi=1.0, use_projection=True)[0], projection)


@pytest.mark.slow
def test_render_answers_during_a_projection(client, server, tmp_path):
    """The queue: a long projection (another session) does not hold up a render."""
    from gradio_client import Client, handle_file
    PIL.Image.fromarray(render(client, seed=30)[0]).save(tmp_path / "t.png")
    job = Client(server[0], verbose=False).submit("network-snapshot-000001.pkl", handle_file(str(tmp_path / "t.png")),
                                                  "w", 400, api_name="/project")
    deadline = time.time() + 60
    while job.status().code.name not in ("PROCESSING", "ITERATING", "PROGRESS") and time.time() < deadline:
        time.sleep(0.1)
    assert not job.done()
    assert render(client, seed=31)[0].shape == (32, 32, 3)
    assert not job.done(), "the projection ended before the render: make it longer"
    assert "LPIPS" in job.result(timeout=300)[0]


@pytest.mark.slow
def test_bad_uploads_get_a_message(client, tmp_path):
    from gradio_client import handle_file
    for name, expected in (("text", "not an image"), ("huge", "pixels"), ("truncated", "could not be decoded")):
        out = client.predict("network-snapshot-000001.pkl", handle_file(bad_uploads(tmp_path)[name]), "w", 3,
                             api_name="/project")
        assert out[0].startswith("Upload refused:") and expected in out[0], out[0]
        assert "Traceback" not in out[0] and out[1] is None and out[2] is None
        assert_alive(client)


@pytest.mark.slow
def test_upload_over_the_limit_refused(client, server, tmp_path):
    """Larger than --max_upload_mb (4 here): Gradio refuses the upload itself; the server keeps serving."""
    from gradio_client import handle_file
    big = tmp_path / "big.png"
    big.write_bytes(png_bytes(16, 16) + b"\0" * (5 * 2 ** 20))
    with pytest.raises(ValueError, match="exceeds the maximum file size"):   # the client knows the limit
        client.predict("network-snapshot-000001.pkl", handle_file(str(big)), "w", 3, api_name="/project")
    import httpx   # and the server enforces it on a raw upload
    with open(big, "rb") as f:
        res = httpx.post(server[0] + "gradio_api/upload", files={"files": ("big.png", f, "image/png")}, timeout=60)
    assert res.status_code == 413 and "maximum allowed size" in res.text, (res.status_code, res.text[:200])
    assert_alive(client)


@pytest.mark.slow
def test_bad_values_get_a_message(client, server):
    from gradio_client.exceptions import AppError
    with pytest.raises(AppError, match="no projection yet"):   # a fresh session has none
        from gradio_client import Client
        Client(server[0], verbose=False).predict(*controls(use_projection=True), api_name="/render")
    with pytest.raises(Exception):   # the page never loads a pickle it was not started with
        client.predict(*controls(snapshot="/etc/passwd"), api_name="/render")
    assert_alive(client)
    assert server[1].poll() is None


@pytest.mark.slow
def test_grayscale_unconditional_pickle(tmp_path):
    """A single pickle of a one-channel unconditional generator (the demo is grayscale): images come back [H, W]
    and equal the library's."""
    import dnnlib.tflib as tflib
    from gradio_client import Client
    from stylegan_tf import explorer, legacy
    Gs = tflib.Network("Gs", func_name="training.networks_stylegan.G_style", **dict(SMALL, num_channels=1))
    randomize(Gs, 3)
    legacy.save_pkl(Gs, str(tmp_path / "gray.pkl"))
    port = free_port()
    proc = start_server(["--network", str(tmp_path / "gray.pkl")], port)
    try:
        line = proc.stdout.readline()
        assert line.startswith("explore:") and "grayscale, 8 style layers, unconditional" in line, line
        client = Client("http://127.0.0.1:%d/" % port, verbose=False)
        out = client.predict("gray.pkl", 5, 0.7, 8, 0, "const", "all", 6, [0, 1], "all", False, api_name="/render")
        image = np.asarray(PIL.Image.open(out[0]))
        assert image.shape == (32, 32)
        expected = explorer.Explorer(Gs).render(explorer.View(seed=5, seed_b=6, mix_layers=[0, 1], cutoff=8)).image
        np.testing.assert_array_equal(image, expected[:, :, 0])
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# ----------------------------------------------------------------------------
# A real browser.


def browser_or_skip():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if missing:
        message = "%s missing: apt-get install chromium chromium-driver (.ci/run does)" % ", ".join(missing)
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1400"):
        options.add_argument(flag)
    return webdriver, Service(executable_path=CHROMEDRIVER), options


@pytest.mark.slow
def test_browser_seed_changes_image(server, tmp_path):
    import urllib.request
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    webdriver, service, options = browser_or_skip()
    options.add_argument("--user-data-dir=%s" % (tmp_path / "profile"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.get(server[0])
        wait = WebDriverWait(driver, 120, poll_frequency=0.2)

        def current_src(_=None):
            imgs = driver.find_elements(By.CSS_SELECTOR, "#current img")
            return imgs[0].get_attribute("src") if imgs else None

        first = wait.until(current_src)   # the page's load event renders seed 0
        seed = driver.find_element(By.CSS_SELECTOR, "#seed input")
        seed.send_keys(Keys.CONTROL, "a")
        seed.send_keys("42", Keys.ENTER)
        second = wait.until(lambda d: current_src() not in (None, first) and current_src())
        wait.until(lambda d: "seed 42" in d.find_element(By.ID, "status").text)
        shot = tmp_path / "explore.png"
        driver.save_screenshot(str(shot))
        print("screenshot: %s" % shot)
        images = [np.asarray(PIL.Image.open(io.BytesIO(urllib.request.urlopen(src, timeout=30).read())))
                  for src in (first, second)]
        assert images[0].shape == images[1].shape == (32, 32, 3) and not np.array_equal(*images)
        assert PIL.Image.open(shot).size[0] >= 800
        # Nothing on the page came from outside the machine (no web fonts, no CDN, no analytics).
        urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        outside = [u for u in urls if not u.startswith((server[0], "data:", "blob:"))]
        assert urls and not outside, outside
    finally:
        driver.quit()
