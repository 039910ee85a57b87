"""Configuration: defaults, every key checked, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedpub.settings import DEFAULTS, load_config, with_address
from sources.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feedpub.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_embedded_defaults(tmp_path):
    config = load_config(cwd=tmp_path)
    assert config.source == "defaults"
    # Relative to the working directory, made absolute: messages name the store wherever it is.
    assert config.store_path == tmp_path / "data/feedpub.sqlite3" and config.output_dir == tmp_path / "public"
    assert (config.host, config.port) == ("127.0.0.1", 8080)
    assert config.site.base_url == "http://127.0.0.1:8080"
    assert config.site.items_per_feed == 50 and config.site.timezone == "Asia/Jakarta"
    assert config.ingest.tag_authority == "localhost"


def test_feedpub_toml_in_the_working_directory_is_read(tmp_path):
    write(tmp_path, '[site]\ntitle = "OKES.NEWS"\nbase_url = "https://okes.news/"\n[feeds]\nitems = 20\n'
                    '[schedule]\nrebuild_minutes = 5\n[store]\npath = "s.sqlite3"\n[output]\npath = "www"\n')
    config = load_config(cwd=tmp_path)
    assert config.site.title == "OKES.NEWS" and config.site.base_url == "https://okes.news"
    assert config.site.items_per_feed == 20 and config.site.rebuild_minutes == 5.0
    assert config.store_path == tmp_path / "s.sqlite3" and config.output_dir == tmp_path / "www"
    assert config.ingest.tag_authority == "okes.news"


def test_a_default_base_url_follows_the_bound_address(tmp_path):
    config = with_address(load_config(cwd=tmp_path), "127.0.0.1", 43117)
    assert config.site.base_url == "http://127.0.0.1:43117"
    given = with_address(load_config(write(tmp_path, '[site]\nbase_url = "https://okes.news"\n')), "0.0.0.0", 80)
    assert given.site.base_url == "https://okes.news"


@pytest.mark.parametrize(("text", "message"), [
    ('[site]\ntitel = "x"\n', r"site\.titel: unknown key \(did you mean site\.title\?\)"),
    ('[sitee]\ntitle = "x"\n', r"sitee: unknown section \(did you mean \[site\]\?\)"),
    ('[feeds]\nitems = "many"\n', r"feeds\.items: expected int, got str 'many'"),
    ('[feeds]\nitems = 0\n', r"feeds\.items: must be between 1 and 10000"),
    ('[site]\ntimezone = "Asia/Jakart"\n', r"site\.timezone: unknown time zone 'Asia/Jakart'"),
    ('[site]\nbase_url = "okes.news"\n', r"site\.base_url: 'okes\.news' is not an absolute http\(s\) URL"),
    ('[site]\nlanguage = "Bahasa Indonesia"\n', r"site\.language: 'Bahasa Indonesia' is not a language tag"),
    ('[site]\nlanguage = "fr"\n', r"site\.language: no strings for language 'fr': built in are en, id"),
    ('[site]\narticle_url = "/articles/{slug}"\n',
     r"site\.article_url: must begin with \{base_url\} or be an absolute http\(s\) URL"),
    ('[site]\narticle_url = "{base_url}/x"\n', r"site\.article_url: must contain \{slug\}"),
    ('[site]\narticle_url = "{base_url}/{slug}/{id}"\n', r"site\.article_url: only \{base_url\}, \{slug\}, \{yyyy\} and \{mm\}"),
    ('[site]\ntag_authority = "not a host"\n', r"site\.tag_authority: 'not a host' is not a domain name"),
    ('[schedule]\nrebuild_minutes = 0\n', r"schedule\.rebuild_minutes: must be between"),
    ('[schedule]\nrebuild_minutes = inf\n', r"schedule\.rebuild_minutes: must be between"),
    ('[schedule]\nrebuild_minutes = nan\n', r"schedule\.rebuild_minutes: must be between"),
    ('[schedule]\nrebuild_minutes = true\n', r"schedule\.rebuild_minutes: expected float"),
    ('[server]\nport = 70000\n', r"server\.port: must be between 0 and 65535"),
    ('[images]\nallow_hosts = ["10.0.0.0/8", "images intranet"]\n',
     r"images\.allow_hosts\[2\]: 'images intranet' is neither a host name nor an IP address or network"),
    ('[images]\nallow_hosts = ["10.0.0.1/8"]\n', r"images\.allow_hosts\[1\]: '10\.0\.0\.1/8' is not an IP address or "
                                                r"network: 10\.0\.0\.1/8 has host bits set"),
    ('[images]\nallow_hosts = "127.0.0.1"\n', r"images\.allow_hosts: expected a list of strings"),
    ('[images]\ntimeout_seconds = 0\n', r"images\.timeout_seconds: must be between 0\.1 and 300"),
    ('[api]\nbody_timeout_seconds = 0\n', r"api\.body_timeout_seconds: must be between 1 and 3600"),
    ('[api]\nbody_timeout_seconds = nan\n', r"api\.body_timeout_seconds: must be between 1 and 3600"),
    ('[store]\nurl = "mysql://db.example/news"\n',
     r"store\.url: 'mysql://db\.example/news' is neither a path, a sqlite:/// URL nor a postgresql:// URL"),
    ('[store]\nurl = "sqlite:data/x.sqlite3"\n', r"store\.url: 'sqlite:data/x\.sqlite3': write sqlite:///relative/path"),
    ('[store]\nurl = "postgresql://feedpub:geheim@db.example:notaport/news"\n',
     r"store\.url: 'postgresql://feedpub:\*\*\*@db\.example:notaport/news' is not a PostgreSQL URL"),
    ('[store]\nurl = "postgresql://db.example/news"\n',
     r"site\.base_url: is required when the store is shared \(store\.url or FEEDPUB_STORE_URL is a PostgreSQL"),
    ("site = 3\n", r"site: must be a table"),
    ("[site\n", r"not valid TOML"),
])
def test_bad_config_names_the_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=rf"^{path}: .*{message}|^{path}: {message}"):
        load_config(path)


def test_the_default_description_is_in_the_sites_language(tmp_path):
    assert load_config(cwd=tmp_path).site.description == "Artikel terbaru"
    english = load_config(write(tmp_path, '[site]\nlanguage = "en-GB"\n'))
    assert english.site.description == "Latest articles" and english.site.language == "en-GB"
    given = load_config(write(tmp_path, '[site]\nlanguage = "en"\ndescription = "News from OKU"\n'))
    assert given.site.description == "News from OKU"


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.toml: cannot read"):
        load_config(tmp_path / "nope.toml")


def test_every_key_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for section, keys in DEFAULTS.items():
        assert f"[{section}]" in readme, section
        for key in keys:
            assert f"\n{key} = " in readme, f"{section}.{key} is not documented in README.md"


def test_an_api_token_with_a_trailing_newline_is_refused(tmp_path):
    path = write(tmp_path, '[api]\ntoken = "abcdefghij0123456789\\n"\n')
    with pytest.raises(ConfigError, match=r"api\.token"):
        load_config(path, env={})


def test_image_look_ups_are_read_from_the_config(tmp_path, tmp_path_factory):
    from ipaddress import ip_network

    path = write(tmp_path, '[images]\nallow_hosts = ["Images.Intranet.Example.", "10.0.0.0/8", "::1"]\n'
                           'timeout_seconds = 2.5\n')
    images = load_config(path).images
    assert images.timeout_seconds == 2.5
    assert images.policy.hosts == frozenset({"images.intranet.example"})
    assert images.policy.networks == (ip_network("10.0.0.0/8"), ip_network("::1"))
    defaults = load_config(cwd=tmp_path_factory.mktemp("nowhere")).images
    assert (defaults.timeout_seconds, defaults.policy.hosts, defaults.policy.networks) == (10.0, frozenset(), ())


def test_the_store_is_a_path_an_sqlite_url_or_a_postgresql_url(tmp_path):
    def store_of(url: str, env: dict[str, str] | None = None):
        config = load_config(write(tmp_path, f'[site]\nbase_url = "https://okes.example"\n[store]\nurl = "{url}"\n'),
                             env=env or {})
        return config.store_path, config.store_url

    # A path in the file is relative to the file's folder; one from the environment, to the
    # folder the command runs in.
    assert store_of("news.sqlite3") == (tmp_path / "news.sqlite3", "")
    assert store_of("sqlite:///data/news.sqlite3") == (tmp_path / "data" / "news.sqlite3", "")
    assert store_of("sqlite:////srv/news.sqlite3") == (Path("/srv/news.sqlite3"), "")
    shared = "postgresql://feedpub@db.example:5432/news"
    assert store_of(shared) == (tmp_path / "data" / "feedpub.sqlite3", shared)   # store.path's folder keeps status.json
    # FEEDPUB_STORE_URL wins (a password stays out of the file), whichever way round.
    assert store_of("news.sqlite3", {"FEEDPUB_STORE_URL": shared}) == (tmp_path / "news.sqlite3", shared)
    assert store_of(shared, {"FEEDPUB_STORE_URL": "sqlite:///other.sqlite3"}) == (Path.cwd() / "other.sqlite3", "")


def test_a_shared_store_from_the_environment_needs_a_base_url_too(tmp_path):
    with pytest.raises(ConfigError, match=r"^defaults: site\.base_url: is required when the store is shared"):
        load_config(cwd=tmp_path, env={"FEEDPUB_STORE_URL": "postgresql://db.example/news"})
    with pytest.raises(ConfigError, match=r"^environment: FEEDPUB_STORE_URL: 'ftp://x/y' is neither a path"):
        load_config(cwd=tmp_path, env={"FEEDPUB_STORE_URL": "ftp://x/y"})
