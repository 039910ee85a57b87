"""nginx in front of feedpub, with the configuration `feedpub nginx-config` prints.

The real nginx (Debian's, with libnginx-mod-http-brotli-static) runs as the test's user
on 127.0.0.1 with a temporary prefix; without nginx these tests skip saying so, unless
CI is set (.ci/run installs it): then they fail.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import time
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import brotli
import pytest
import requests

from feeds.building.build import build
from feeds.publishing.publish import GONE_MARKERS, read_manifest
from feeds.serving.nginx import BROWSER_ACCEPT, BROTLI_MODULE, check_manifest, content_type_of, page_of, standalone
from feeds.serving.server import _wants_page_uncached

from .conftest import INGEST_TIME, SAMPLE, free_port, write_article
from .harness import Served, run_feedpub, wait_for

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

# Accept headers as browsers and feed readers send them (each browser's for a document).
ACCEPTS = [
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",   # Firefox
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
    "application/signed-exchange;v=b3;q=0.7",                                                   # Chrome
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",                         # Safari
    "text/html, application/xhtml+xml, image/jxr, */*",                                          # Edge (old)
    "application/rss+xml, application/rdf+xml;q=0.8, application/atom+xml;q=0.6, application/xml;q=0.4, "
    "text/xml;q=0.4",                                                                          # Thunderbird
    "application/atom+xml,application/rss+xml;q=0.9,application/xml;q=0.8,text/xml;q=0.7,*/*;q=0.5",  # Miniflux
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, text/html;q=0.5, "
    "*/*;q=0.1",                                                                               # feed readers
    "application/feed+json, application/json;q=0.9, */*;q=0.8",
    "*/*", "", "text/html;q=0.9, */*", "text/html;q=0", "TEXT/HTML",
]


# The one pair where they differ: a reader that names RSS and Atom, and text/html above */*,
# asks for feed.json. feedpub weighs text/html (0.5) against */* (0.1) and gives the page;
# nginx sees a feed reader and gives the feed.
DIFFERENT = {(ACCEPTS[6], "application/feed+json")}


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("feed_type", ["application/rss+xml", "application/atom+xml", "application/feed+json"])
def test_the_browser_pattern_chooses_as_feedpub_does(accept, feed_type):
    pattern = re.compile(BROWSER_ACCEPT.removeprefix("~*"), re.IGNORECASE)
    same = bool(pattern.search(accept)) == _wants_page_uncached(accept.lower(), feed_type)
    assert same != ((accept, feed_type) in DIFFERENT)


def test_each_feed_leads_to_the_page_the_build_names():
    assert page_of("rss.xml") == page_of("feed.json") == "feed.html"
    assert page_of("category/politik/atom.xml") == "category/politik/index.html"
    assert page_of("archive/2024-09-1.xml") == "archive/2024-09-1.html"
    assert page_of("tag/pilkada/archive/2024-09-2.xml") == "tag/pilkada/archive/2024-09-2.html"
    assert page_of("partners/msn/rss.xml") is None and page_of("index.html") is None


def test_the_build_marks_each_document_that_answers_410(store, ingest, site, tmp_path):
    """For nginx, which cannot read the manifest: an empty file under .gone/ at its path."""
    ingest(SAMPLE)
    article = store.articles(store.latest_ids(None, None, INGEST_TIME, 1), INGEST_TIME)[0]
    public = tmp_path / "public"
    build(store, site, public, INGEST_TIME)
    marker = public / GONE_MARKERS / "articles" / article.slug
    assert not marker.exists()
    store.delete(article.id, INGEST_TIME + timedelta(hours=1))
    build(store, site, public, INGEST_TIME + timedelta(hours=1))
    assert read_manifest(public)[f"articles/{article.slug}"]["status"] == 410
    assert marker.is_file() and marker.stat().st_size == 0
    ingest(SAMPLE, now=INGEST_TIME + timedelta(hours=2))   # restored: the same id again
    build(store, site, public, INGEST_TIME + timedelta(hours=2))
    assert "status" not in read_manifest(public)[f"articles/{article.slug}"] and not marker.exists()


def test_a_document_nginx_would_serve_otherwise_is_named():
    manifest = {
        "rss.xml": {"content_type": "application/rss+xml; charset=utf-8", "page": "feed.html"},
        "articles/a-story": {"content_type": "text/html; charset=utf-8"},
        "category/x/rss.xml": {"content_type": "application/rss+xml; charset=utf-8", "page": "category/x/feed.html"},
        "notes.md": {"content_type": "text/markdown; charset=utf-8"},
    }
    assert check_manifest(manifest) == [
        "category/x/rss.xml: its page for people is category/x/feed.html, nginx would look for category/x/index.html",
        "notes.md: the build says 'text/markdown; charset=utf-8', nginx would send 'application/octet-stream'",
    ]
    assert content_type_of("partners/msn/0a1b2c/rss.xml") == "application/rss+xml; charset=utf-8"


# --- the real nginx ------------------------------------------------------------------------


def nginx_or_skip() -> str:
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    missing = ("nginx is not installed (apt-get install nginx libnginx-mod-http-brotli-static)" if not found else
               None if BROTLI_MODULE.exists() else f"{BROTLI_MODULE} is missing "
               "(apt-get install libnginx-mod-http-brotli-static)")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}: CI installs it (.ci/run)")
        pytest.skip(f"{missing}; these tests run in CI")
    return found


def feedpub(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return run_feedpub(folder, *args)


class Nginx:
    """nginx as this user, on 127.0.0.1, everything under ``prefix``, in the foreground."""

    def __init__(self, binary: str, prefix: Path, server_block: str):
        prefix.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        conf = prefix / "nginx.conf"
        conf.write_text(standalone(server_block, prefix, as_root=os.geteuid() == 0), encoding="utf-8")
        self.process = subprocess.Popen([binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        port = int(re.search(r"listen 127\.0\.0\.1:(\d+);", server_block).group(1))
        self.url = f"http://127.0.0.1:{port}"
        wait_for(lambda: self._answers() or self.process.poll() is not None)
        assert self.process.poll() is None, self.process.stderr.read().decode()

    def _answers(self) -> bool:
        try:
            requests.get(self.url + "/healthz-of-nobody", timeout=1)
            return True
        except requests.ConnectionError:
            return False

    def get(self, path: str, **headers: str) -> requests.Response:
        return requests.get(self.url + path, headers={"Accept-Encoding": "identity", **headers}, timeout=5)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGQUIT)   # nginx's graceful stop
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def site_config(folder: Path, *, port: int, output: str, access_log: str = "") -> Path:
    """One site (one base_url: the same bytes in every folder), its output in ``output``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{output}.toml"
    path.write_text(f'[site]\nbase_url = "https://okes.example"\n[store]\nsample = false\n'
                    f'path = "data/feedpub.sqlite3"\n[output]\npath = "{output}"\n[server]\nport = {port}\n'
                    f'workers = 1\n[stats]\naccess_log = "{access_log}"\n'
                    # A hub that refuses at once: announced in Link headers, never reached.
                    '[websub]\nhubs = ["http://127.0.0.1:9/hub"]\nretries = 0\n', encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def nginx_site(tmp_path_factory):
    """One store; `feedpub serve` over folder a with nginx in front (its upstream); folders b and
    c built from the same store by `feedpub build` a second apart, each with an nginx."""
    binary = nginx_or_skip()
    folder = tmp_path_factory.mktemp("nginx-site")
    ports = {name: free_port() for name in ("serve", "a", "b", "c")}
    # Only the instance feedpub serves behind nginx logs its polls for it.
    configs = {name: site_config(folder, port=ports["serve"], output=f"public-{name}",
                                 access_log="nginx-a/feeds.log" if name == "a" else "")
               for name in ("a", "b", "c")}
    feedpub(folder, "--config", str(configs["a"]), "ingest", str(SAMPLE), "--category", "Pilkada")
    gone = write_article(folder, "banjir.txt", "BATURAJA - OKES.NEWS - Banjir melanda tiga desa.\nWarga mengungsi. (*)")
    feedpub(folder, "--config", str(configs["a"]), "ingest", str(gone))
    feedpub(folder, "--config", str(configs["a"]), "delete", "banjir")
    feedpub(folder, "--config", str(configs["b"]), "build")
    time.sleep(1.1)   # the build's clock moves on: nothing of it may reach a file's time
    feedpub(folder, "--config", str(configs["c"]), "build")
    os.environ["FEEDPUB_CONFIG"] = str(configs["a"])
    try:
        served = Served(folder, port=ports["serve"], log=folder / "serve.log")
    finally:
        del os.environ["FEEDPUB_CONFIG"]
    started = []
    try:
        for name in ("a", "b", "c"):
            block = feedpub(folder, "--config", str(configs[name]), "nginx-config",
                            "--listen", f"127.0.0.1:{ports[name]}").stdout
            started.append(Nginx(binary, folder / f"nginx-{name}", block))
        yield folder, served, dict(zip("abc", started, strict=True))
    finally:
        for nginx in started:
            nginx.stop()
        served.stop()


DOCUMENTS = ["/rss.xml", "/atom.xml", "/feed.json", "/index.html", "/feed.html", "/feeds.opml",
             "/articles/okes-forkopimda-oku-pilkada-2024", "/style.css"]


@pytest.mark.parametrize("coding", ["identity", "gzip", "br"])
def test_two_folders_built_at_different_times_give_the_same_validators(nginx_site, coding):
    _, served, nginx = nginx_site
    for path in DOCUMENTS:
        b, c = (nginx[name].get(path, **{"Accept-Encoding": coding}) for name in "bc")
        assert b.status_code == c.status_code == 200, path
        assert b.headers.get("Content-Encoding", "identity") == coding, path
        assert (b.headers["ETag"], b.headers["Last-Modified"]) == (c.headers["ETag"], c.headers["Last-Modified"]), path
        # The Last-Modified feedpub sends for the same document.
        assert b.headers["Last-Modified"] == served.get(path).headers["Last-Modified"], path


def vary(answer: requests.Response) -> set[str]:
    return {token.strip() for token in answer.headers.get("Vary", "").split(",") if token.strip()}


@pytest.mark.parametrize("accept", ["application/atom+xml, */*;q=0.5", BROWSER])
def test_headers_are_those_feedpub_sends(nginx_site, accept):
    _, served, nginx = nginx_site
    for path in [*DOCUMENTS, "/category/pilkada/feed.json", "/category/pilkada/"]:   # not the stats test's feeds
        for coding in ("identity", "br"):
            ours, theirs = nginx["b"].get(path, Accept=accept, **{"Accept-Encoding": coding}), \
                served.get(path, Accept=accept, **{"Accept-Encoding": coding})
            assert ours.status_code == theirs.status_code == 200, path
            for name in ("Content-Type", "Cache-Control", "X-Content-Type-Options", "Link", "Content-Encoding",
                         "Last-Modified"):
                assert ours.headers.get(name) == theirs.headers.get(name), (path, coding, name)
            assert vary(ours) == vary(theirs), (path, coding)
            assert ours.content == theirs.content, (path, coding)


def test_conditional_requests_get_304(nginx_site):
    _, _, nginx = nginx_site
    for coding in ("identity", "gzip", "br"):
        first = nginx["b"].get("/rss.xml", **{"Accept-Encoding": coding})
        by_etag = nginx["b"].get("/rss.xml", **{"Accept-Encoding": coding, "If-None-Match": first.headers["ETag"]})
        assert by_etag.status_code == 304 and by_etag.headers["ETag"] == first.headers["ETag"]
        by_date = nginx["b"].get("/rss.xml", **{"Accept-Encoding": coding,
                                               "If-Modified-Since": first.headers["Last-Modified"]})
        assert by_date.status_code == 304
    modified = parsedate_to_datetime(first.headers["Last-Modified"]).timestamp()
    earlier = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(modified - 1))
    assert nginx["b"].get("/rss.xml", **{"If-Modified-Since": earlier}).status_code == 200


def test_br_and_gzip_are_the_builds_variants_with_vary(nginx_site):
    folder, _, nginx = nginx_site
    identity = nginx["b"].get("/atom.xml")
    for coding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        answer = requests.get(nginx["b"].url + "/atom.xml", headers={"Accept-Encoding": coding}, stream=True, timeout=5)
        raw = answer.raw.read(decode_content=False)
        assert answer.headers["Content-Encoding"] == coding
        assert "Accept-Encoding" in answer.headers["Vary"] and "Accept" in answer.headers["Vary"]
        assert raw == (folder / "public-b" / ("atom.xml" + {"br": ".br", "gzip": ".gz"}[coding])).read_bytes()
        assert decode(raw) == identity.content
        assert answer.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
        assert answer.headers["Cache-Control"] == "public, max-age=900, stale-while-revalidate=900"


def test_no_dot_file_or_variant_name_is_served(nginx_site):
    folder, _, nginx = nginx_site
    public = folder / "public-b"
    assert (public / ".manifest.json").exists() and (public / "rss.xml.gz").exists()
    for path in ("/.manifest.json", "/rss.xml.gz", "/rss.xml.br", "/.gone/articles/banjir", "/.build-state.json",
                 "/.delta/atom.xml.json", "/nothing.xml"):
        assert nginx["b"].get(path).status_code == 404, path
    for path in ("/%2e%2e/nginx-b/nginx.conf", "/../nginx-b/nginx.conf", "/x/../../public-c/rss.xml"):
        assert nginx["b"].get(path).status_code in (400, 404), path   # nginx refuses a way up: 400


def test_a_browser_gets_the_feeds_page_and_a_reader_the_feed(nginx_site):
    folder, _, nginx = nginx_site
    page = nginx["b"].get("/rss.xml", Accept=BROWSER)
    assert page.content == (folder / "public-b" / "feed.html").read_bytes()
    assert page.headers["Content-Type"] == "text/html; charset=utf-8" and "Accept" in page.headers["Vary"]
    feed = nginx["b"].get("/rss.xml", Accept="application/rss+xml, */*;q=0.5")
    assert feed.content == (folder / "public-b" / "rss.xml").read_bytes() and "Accept" in feed.headers["Vary"]


def test_a_deleted_articles_address_is_gone(nginx_site):
    _, served, nginx = nginx_site
    answer = nginx["b"].get("/articles/banjir")
    assert answer.status_code == served.get("/articles/banjir").status_code == 410
    assert answer.content == served.get("/articles/banjir", **{"Accept-Encoding": "identity"}).content


def test_an_address_with_nothing_gets_the_builds_page_with_404(nginx_site):
    folder, served, nginx = nginx_site
    page = (folder / "public-b" / "404.html").read_bytes()
    for path in ("/articles/tidak-ada", "/no/such/page", "/404.html", "/.manifest.json"):
        answer = nginx["b"].get(path, **{"Accept-Encoding": "identity"})
        assert answer.status_code == served.get(path).status_code == 404, path
        assert answer.content == page and answer.headers["Content-Type"] == "text/html; charset=utf-8", path
        assert answer.headers["Cache-Control"] == "public, max-age=900, stale-while-revalidate=900"


def test_the_build_says_nginx_serves_every_document_as_feedpub_does(nginx_site):
    folder, _, _ = nginx_site
    assert check_manifest(read_manifest(folder / "public-b")) == []


def test_a_delta_is_answered_by_feedpub_through_nginx(nginx_site):
    folder, served, nginx = nginx_site
    first = nginx["a"].get("/atom.xml", **{"A-IM": "feed"})
    assert first.status_code == 200
    assert first.headers["ETag"] == served.get("/atom.xml", **{"Accept-Encoding": "identity"}).headers["ETag"]
    feedpub(folder, "--config", str(folder / "public-a.toml"), "ingest",
            str(write_article(folder, "pasar.txt",
                              "BATURAJA - OKES.NEWS - Harga karet naik di pasar.\nPetani senang. (*)")))
    wait_for(lambda: nginx["a"].get("/atom.xml").headers["ETag"] != nginx["b"].get("/atom.xml").headers["ETag"])
    # nginx serves the new files the moment they are swapped in; feedpub's workers take the new
    # manifest a moment later, and the delta is theirs to answer.
    wait_for(lambda: served.get("/atom.xml", **{"Accept-Encoding": "identity"}).headers["ETag"]
             != first.headers["ETag"])
    delta = nginx["a"].get("/atom.xml", **{"A-IM": "feed", "If-None-Match": first.headers["ETag"]})
    assert delta.status_code == 226 and delta.headers["IM"] == "feed"
    assert b"Harga karet naik" in delta.content and b"Forkopimda" not in delta.content


def test_stats_read_from_nginxs_log_are_those_feedpub_records_itself(nginx_site):
    """The same polls, one feed through nginx (its log), another answered by feedpub itself."""
    folder, served, nginx = nginx_site
    agent = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 7 subscribers; )"
    for get, path in ((nginx["a"].get, "/category/pilkada/rss.xml"), (served.get, "/category/pilkada/atom.xml")):
        first = get(path, **{"User-Agent": agent})
        assert first.status_code == 200, path
        for _ in range(3):
            assert get(path, **{"User-Agent": agent, "If-None-Match": first.headers["ETag"]}).status_code == 304
        assert get(path, **{"User-Agent": "curl/8.0", "Accept-Encoding": "gzip"}).status_code == 200
        assert get(path, Accept=BROWSER).headers["Content-Type"].startswith("text/html")   # the feed's page

    def reports():
        found = json.loads(feedpub(folder, "--config", str(folder / "public-a.toml"), "stats", "--json").stdout)
        by_path = {report["path"]: report for report in found}
        wanted = [by_path.get(f"category/pilkada/{name}") for name in ("rss.xml", "atom.xml")]
        return wanted if all(report and report["polls"] == 6 for report in wanted) else None

    through_nginx, by_feedpub = wait_for(reports)
    figures = ("polls", "share_304", "subscribers", "subscribers_total", "other_clients")
    assert {key: through_nginx[key] for key in figures} == {key: by_feedpub[key] for key in figures}
    assert [flag["polls"] for flag in through_nginx["flagged"]] == [flag["polls"] for flag in by_feedpub["flagged"]]
    assert through_nginx["bytes_sent"] > 0


def test_the_api_healthz_and_metrics_are_feedpubs(nginx_site):
    _, served, nginx = nginx_site
    health = nginx["a"].get("/healthz")
    assert health.status_code == served.get("/healthz").status_code and "store_reachable" in health.json()
    assert "feedpub_builds_total" in nginx["a"].get("/metrics").text
    api = nginx["a"].get("/api/articles")   # the API is off without a token: feedpub's 404
    assert api.status_code == served.get("/api/articles").status_code == 404
    assert api.content == served.get("/api/articles").content
