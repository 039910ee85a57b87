"""Retired feeds: server.gone answers 410, server.moved 301; the config names a bad entry."""

from __future__ import annotations

import pytest
import requests

from feeds.serving.server import PublicFiles
from feedpub.settings import load_config
from sources.errors import ConfigError

from .conftest import RunningServer


@pytest.fixture
def server(tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    (public / "rss.xml").write_bytes(b"<rss/>")
    (public / "old.xml").write_bytes(b"<rss>still on disk</rss>")
    app = PublicFiles(public, max_age=600, gone=["/old/rss.xml", "/old.xml"],
                      moved={"/rss2.xml": "/rss.xml", "/elsewhere.xml": "https://partner.example/feed.xml"})
    app.base_url = "https://okes.example/"
    running = RunningServer(app)
    yield running
    running.stop()


def test_a_gone_path_answers_410_even_when_a_file_is_left(server):
    for path in ("/old/rss.xml", "/old.xml"):
        response = requests.get(server.url + path, timeout=5)
        assert response.status_code == 410, path
        assert response.headers["Cache-Control"] == "public, max-age=600, stale-while-revalidate=600"
    assert requests.head(server.url + "/old.xml", timeout=5).status_code == 410


def test_a_moved_path_answers_301_with_an_absolute_location(server):
    response = requests.get(server.url + "/rss2.xml", allow_redirects=False, timeout=5)
    assert response.status_code == 301
    assert response.headers["Location"] == "https://okes.example/rss.xml"
    away = requests.get(server.url + "/elsewhere.xml", allow_redirects=False, timeout=5)
    assert away.status_code == 301 and away.headers["Location"] == "https://partner.example/feed.xml"


def test_other_paths_and_methods_are_unchanged(server):
    assert requests.get(server.url + "/rss.xml", timeout=5).status_code == 200
    assert requests.get(server.url + "/old/other.xml", timeout=5).status_code == 404
    assert requests.get(server.url + "/rss2.xml/", allow_redirects=False, timeout=5).status_code == 404
    assert requests.post(server.url + "/old.xml", timeout=5).status_code == 405


def write(tmp_path, text):
    path = tmp_path / "feedpub.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_config_takes_gone_and_moved(tmp_path, tmp_path_factory):
    config = load_config(write(tmp_path, '[server]\ngone = ["/old/rss.xml"]\n'
                                         'moved = { "/rss2.xml" = "/rss.xml", "/a.xml" = "https://b.example/a" }\n'))
    assert config.gone == ("/old/rss.xml",)
    assert dict(config.moved) == {"/rss2.xml": "/rss.xml", "/a.xml": "https://b.example/a"}
    table = load_config(write(tmp_path, '[server.moved]\n"/rss2.xml" = "/rss.xml"\n'))
    assert table.moved == (("/rss2.xml", "/rss.xml"),)
    defaults = load_config(cwd=tmp_path_factory.mktemp("none"))
    assert (defaults.gone, defaults.moved) == ((), ())


@pytest.mark.parametrize(("text", "message"), [
    ('gone = ["old/rss.xml"]', r'server\.gone\[1\]: .old/rss\.xml. must be a URL path beginning with a single /'),
    ('gone = ["/ok.xml", "/a?b"]', r"server\.gone\[2\]: .* no query"),
    ('gone = ["/a/../rss.xml"]', r"server\.gone\[1\]: .* must not contain \. or \.\. segments"),
    ('gone = "/old.xml"', r"server\.gone: expected a list of strings"),
    ('moved = ["/a"]', r"server\.moved: expected a table of strings"),
    ('moved = { "/a" = 1 }', r"server\.moved: expected a table of strings"),
    ('moved = { "a" = "/b" }', r'server\.moved\."a": .a. must be a URL path'),
    ('moved = { "/a" = "b" }', r'server\.moved\."/a": .b. is neither a path beginning with / nor an absolute http'),
    ('moved = { "/a" = "ftp://x/y" }', r'server\.moved\."/a": .* absolute http\(s\) URL'),
    ('moved = { "/a" = "/a" }', r'server\.moved\."/a": must not redirect to itself'),
    ('moved = { "/a" = "/b", "/b" = "/c" }', r'server\.moved\."/a": ./b. is itself retired'),
    ('gone = ["/b"]\nmoved = { "/a" = "/b" }', r'server\.moved\."/a": ./b. is itself retired'),
    ('gone = ["/a"]\nmoved = { "/a" = "/b" }', r'server\.moved\."/a": ./a. is also in server\.gone'),
])
def test_a_bad_entry_is_named(tmp_path, text, message):
    path = write(tmp_path, f"[server]\n{text}\n")
    with pytest.raises(ConfigError, match=rf"^{path}: {message}"):
        load_config(path)
