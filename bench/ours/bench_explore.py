"""How quickly explore.py's page answers a control change: the time from a changed control to the new image.

Two generators with random weights (speed does not depend on the weights):
  demo   the demo's architecture (train.py's built-in preset: 16x16 grayscale, 10 classes, fmap_base 512,
         fmap_max 128, 128-d latents, 2 mapping layers)
  256    an official-size 256x256 generator (FFHQ/LSUN architecture: fmap_base 8192, 512-d latents, 8 mapping
         layers, 14 style layers; 26 M parameters)

For each, two measurements, after a warm-up (the page traces its graphs at start-up):
  render  `stylegan_tf.explorer.Explorer.render` in this process: mapping of seeds A and B, truncation, mixing,
          one synthesis batch of three images (current, A, B; two batches for random noise).
          (The server's own render time, from the page's status line, is printed beside the page's.)
  page    the real server (`explore.py` in a subprocess on 127.0.0.1) driven by gradio_client: a changed control
          -> /render through the queue -> three PNGs encoded, served and downloaded by the client. This is what
          a user waits for after moving a control, minus the browser's drawing.
  browser headless Chromium on the same server (when /usr/bin/chromium and chromedriver exist): the psi slider
          moved one step with the keyboard -> the new current image decoded in the page (both times taken
          in the page's clock). This is the whole wait of a user.
Each change is a new seed (so nothing is cached), for the controls: seed (const noise), mixing coarse styles,
random noise, and an edit along a direction (the browser: psi alternating 0.70 / 0.75). Median and 90th
percentile of --repeats changes each.

    python bench/ours/bench_explore.py                      # both generators, 20 changes per control
    python bench/ours/bench_explore.py --nets demo --repeats 50 --json out.jsonl
"""

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

NETS = {
    "demo": dict(num_channels=1, resolution=16, label_size=10, fmap_base=512, fmap_max=128, latent_size=128,
                 dlatent_size=128, mapping_fmaps=128, mapping_layers=2),
    "256": dict(num_channels=3, resolution=256, fmap_base=8192),
}
CONTROLS = ("seed", "mix coarse", "noise random", "edit")


def build(name, path, directions_dir):
    """A random-weight Gs of NETS[name] pickled at `path`, and one random editing direction."""
    import keras
    import dnnlib.tflib as tflib
    from stylegan_tf import directions, legacy
    keras.utils.set_random_seed(0)
    Gs = tflib.Network("Gs", func_name="training.networks_stylegan.G_style", **NETS[name])
    legacy.save_pkl(Gs, path)
    os.makedirs(directions_dir, exist_ok=True)
    size = Gs.components.synthesis.input_shape[2]
    directions.save_direction(os.path.join(directions_dir, "attr.npy"), np.random.RandomState(0).randn(size))
    return Gs


def view_args(control, seed, n):
    """(View kwargs, /render inputs) for a change of `control` to a new seed."""
    from stylegan_tf import explorer
    mix = explorer.preset_layers("coarse", n) if control == "mix coarse" else []
    noise = "random" if control == "noise random" else "const"
    strength = 2.0 if control == "edit" else 0.0
    kwargs = dict(seed=seed, psi=0.7, cutoff=None, seed_b=seed + 1, mix_layers=mix, noise_mode=noise,
                  strengths={"attr": strength})
    return kwargs, [None, seed, 0.7, n, 0, noise, "all", seed + 1, mix, "all", False, strength]


def stats(seconds):
    ms = np.asarray(seconds) * 1e3
    return dict(median_ms=float(np.median(ms)), p90_ms=float(np.percentile(ms, 90)), n=len(ms))


def bench_render(Gs, directions_dir, repeats):
    from stylegan_tf import explorer
    ex = explorer.Explorer(Gs, explorer.load_directions(directions_dir, Gs))
    out = {}
    for control in CONTROLS:
        ex.render(explorer.View(**view_args(control, 0, ex.num_layers)[0]))   # warm-up
        times = []
        for i in range(repeats):
            start = time.perf_counter()
            ex.render(explorer.View(**view_args(control, 1000 + i, ex.num_layers)[0]))
            times.append(time.perf_counter() - start)
        out[control] = stats(times)
    return out, ex.num_layers


ARM = """
window.__t0 = null; window.__t1 = null;
const box = document.querySelector('#current');
const old = (box.querySelector('img') || {}).src;
document.querySelector('#psi input[type=range]').addEventListener('keydown', () => {
    if (window.__t0 === null) window.__t0 = performance.now(); }, {once: true});
const obs = new MutationObserver(() => {
    const img = box.querySelector('img');
    if (img && img.src !== old && window.__t1 === null) {
        window.__t1 = -1; obs.disconnect();
        const done = () => { window.__t1 = performance.now(); };
        img.decode().then(done, done);
    }
});
obs.observe(box, {subtree: true, attributes: true, childList: true});
"""


def bench_browser(url, repeats):
    """Milliseconds from a keyboard step of the psi slider to the new image decoded, in headless Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="bench-explore-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--user-data-dir=" + profile):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)
        wait = WebDriverWait(driver, 300, poll_frequency=0.01)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#current img"))
        slider = driver.find_element(By.CSS_SELECTOR, "#psi input[type=range]")
        times = []
        for i in range(repeats + 1):
            driver.execute_script(ARM)
            slider.send_keys(Keys.ARROW_RIGHT if i % 2 == 0 else Keys.ARROW_LEFT)
            ms = wait.until(lambda d: d.execute_script(
                "return window.__t1 > 0 ? window.__t1 - window.__t0 : null;"))
            if i:   # the first is a warm-up
                times.append(ms / 1e3)
        return stats(times)
    finally:
        driver.quit()


def bench_page(pkl, directions_dir, num_layers, repeats, browser=False):
    from gradio_client import Client
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "explore.py"), "--network", pkl, "--directions",
                             directions_dir, "--port", str(port)], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        start = time.perf_counter()
        line = proc.stdout.readline()
        if not line.startswith("explore:"):
            raise RuntimeError("explore.py did not start: %r" % line)
        startup = time.perf_counter() - start
        client = Client("http://127.0.0.1:%d/" % port, verbose=False)
        snapshot = os.path.basename(pkl)
        out = {}
        for control in CONTROLS:
            args = view_args(control, 0, num_layers)[1]
            args[0] = snapshot
            client.predict(*args, api_name="/render")   # warm-up
            times, server = [], []
            for i in range(repeats):
                args = view_args(control, 2000 + i, num_layers)[1]
                args[0] = snapshot
                start = time.perf_counter()
                status = client.predict(*args, api_name="/render")[3]
                times.append(time.perf_counter() - start)
                server.append(float(status.rsplit(": ", 1)[1].split()[0]) / 1e3)   # '...: 123 ms', the render alone
            out[control] = dict(stats(times), server_render_median_ms=stats(server)["median_ms"])
        if browser:
            out["browser psi"] = bench_browser("http://127.0.0.1:%d/" % port, repeats)
        return out, startup
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def cpu_model():
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nets", default="demo,256", help="comma-separated: demo, 256")
    parser.add_argument("--repeats", type=int, default=20, help="changes per control")
    parser.add_argument("--json", default=None, help="append one JSON line per network here")
    parser.add_argument("--browser", type=int, default=1, help="1: also time headless Chromium (if installed)")
    args = parser.parse_args()
    from dnnlib import cli
    cli.import_tensorflow()
    print("CPU: %s, %d cores, load average %.1f" % (cpu_model(), os.cpu_count(), os.getloadavg()[0]))
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.nets.split(","):
            pkl, dirs = os.path.join(tmp, "%s.pkl" % name), os.path.join(tmp, "dirs-%s" % name)
            Gs = build(name, pkl, dirs)
            render, num_layers = bench_render(Gs, dirs, args.repeats)
            browser = args.browser and os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")
            page, startup = bench_page(pkl, dirs, num_layers, args.repeats, browser)
            print("%s (%dx%d, %d layers): explore.py start-up to serving %.1f s" % (
                name, NETS[name]["resolution"], NETS[name]["resolution"], num_layers, startup))
            print("  %-14s %22s %22s %16s" % ("control", "render median / p90", "page median / p90",
                                              "(server render)"))
            for control in CONTROLS:
                print("  %-14s %12.0f / %5.0f ms %12.0f / %5.0f ms %13.0f ms" % (
                    control, render[control]["median_ms"], render[control]["p90_ms"], page[control]["median_ms"],
                    page[control]["p90_ms"], page[control]["server_render_median_ms"]))
            if "browser psi" in page:
                print("  browser: psi slider step to the new image decoded: %.0f / %.0f ms" % (
                    page["browser psi"]["median_ms"], page["browser psi"]["p90_ms"]))
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(dict(net=name, cpu=cpu_model(), load=os.getloadavg()[0], startup_s=startup,
                                            render=render, page=page)) + "\n")


if __name__ == "__main__":
    main()
