"""dnnlib.util.download: the project's one download cache (pooch; gdown for Google Drive), offline
against a local HTTP server on 127.0.0.1, including a Drive-style confirmation page."""

import functools
import hashlib
import http.server
import threading
import urllib.parse

import pytest

from dnnlib import util


class _Handler(http.server.BaseHTTPRequestHandler):
    files = {}  # path -> bytes
    hits = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        self.hits.append(self.path)
        if url.path == "/uc":  # Drive: a file too large to scan answers with a confirmation form
            page = ('<html><body><p>Google Drive can\'t scan this file for viruses.</p>'
                    '<form id="download-form" action="https://drive.usercontent.google.com/download" method="get">'
                    '<input type="submit" value="Download anyway"/>'
                    '<input type="hidden" name="id" value="%s"><input type="hidden" name="export" value="download">'
                    '<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="1234">'
                    '</form></body></html>' % query["id"][0])
            return self._send(page.encode(), "text/html; charset=utf-8")
        if url.path == "/download" and query.get("confirm") == ["t"]:
            data = self.files.get("/drive/" + query["id"][0])
            if data is not None:
                return self._send(data, "application/octet-stream",
                                  {"Content-Disposition": 'attachment; filename="%s.pkl"' % query["id"][0]})
        data = self.files.get(url.path)
        if data is None:
            self.send_error(404)
            return
        self._send(data, "application/octet-stream")

    def _send(self, data, ctype, headers=()):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in dict(headers).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server(monkeypatch):
    _Handler.files, _Handler.hits = {}, []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    base = "http://127.0.0.1:%d" % srv.server_address[1]
    # Google's hosts are answered by the local server (no network in tests).
    import requests
    send = requests.Session.send

    def local_send(self, request, **kwargs):
        parts = urllib.parse.urlsplit(request.url)
        if parts.hostname in ("drive.google.com", "docs.google.com", "drive.usercontent.google.com"):
            request.url = urllib.parse.urlunsplit(("http", base[len("http://"):], parts.path, parts.query, ""))
        return send(self, request, **kwargs)
    monkeypatch.setattr(requests.Session, "send", local_send)
    yield base
    srv.shutdown()
    srv.server_close()


def test_download_cache_checksums(server, tmp_path, monkeypatch):
    data = b"network bytes " * 1000
    _Handler.files["/nets/model.pkl"] = data
    url = server + "/nets/model.pkl"
    monkeypatch.setenv("STYLEGAN_CACHE_DIR", str(tmp_path / "cache"))  # the one variable
    path, digest = util.download(url, progress=False)
    assert digest == hashlib.sha256(data).hexdigest() and open(path, "rb").read() == data
    assert path.startswith(str(tmp_path / "cache" / "downloads"))
    del _Handler.files["/nets/model.pkl"]
    assert util.download(url, progress=False) == (path, digest)  # from the cache
    with util.open_url(url) as f:
        assert f.read() == data
    # A wrong expected checksum: error, and nothing new is kept.
    _Handler.files["/nets/other.pkl"] = data
    with pytest.raises(util.DownloadError, match="wrong checksum"):
        util.download(server + "/nets/other.pkl", sha256="0" * 64, progress=False)
    assert not [p for p in (tmp_path / "cache" / "downloads").iterdir() if "other" in p.name]
    assert util.download(server + "/nets/other.pkl", sha256=digest, progress=False)[1] == digest  # user's pin
    # An altered cache entry is caught by the recorded digest.
    with open(path, "ab") as f:
        f.write(b"x")
    with pytest.raises(util.DownloadError, match="cached copy .* wrong checksum"):
        util.download(url, progress=False)
    # HTTP errors are one DownloadError naming the URL.
    with pytest.raises(util.DownloadError, match="missing.pkl"):
        util.download(server + "/missing.pkl", cache_dir=str(tmp_path / "c2"), progress=False)


def test_name_pinned_prefix(server, tmp_path):
    _Handler.files["/models/vgg16-397923af.pth"] = b"not the real torchvision file"
    with pytest.raises(util.DownloadError, match="does not start with 397923af"):
        util.download(server + "/models/vgg16-397923af.pth", cache_dir=str(tmp_path), progress=False)
    assert not list((tmp_path / "downloads").glob("*vgg16*.pth"))


def test_google_drive_confirmation_page(server, tmp_path):
    data = b"drive file " * 500
    _Handler.files["/drive/1N2-abcDEF"] = data
    url = "https://drive.google.com/uc?id=1N2-abcDEF"
    path, digest = util.download(url, cache_dir=str(tmp_path), progress=False)
    assert open(path, "rb").read() == data and digest == hashlib.sha256(data).hexdigest()
    assert any(h.startswith("/uc?id=1N2-abcDEF") for h in _Handler.hits)  # gdown asked Drive first,
    assert any("confirm=t" in h for h in _Handler.hits)                    # then followed the form
    n = len(_Handler.hits)
    assert util.download(url, cache_dir=str(tmp_path), progress=False)[0] == path and len(_Handler.hits) == n
