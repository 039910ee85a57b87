"""One site, one store, whatever the folder: how commands find the configuration, `feedpub init`,
and commands that only read never making a store."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from feedpub.settings import DEFAULTS, load_config

from .conftest import write_article
from .harness import FEEDPUB

ROOT = Path(__file__).resolve().parent.parent


def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "FEEDPUB_CONFIG"}
    environment.update(env or {}, PYTHONPATH=str(ROOT))
    return subprocess.run([*FEEDPUB, *args], cwd=cwd, capture_output=True, text=True, env=environment)


def files_below(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


def make_site(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "feedpub.toml").write_text('[site]\ntitle = "OKES.NEWS"\nbase_url = "https://okes.news"\n',
                                         encoding="utf-8")
    return folder


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return make_site(tmp_path / "okes")


def test_commands_in_a_folder_below_the_site_use_its_configuration_and_store(site):
    drafts = site / "naskah" / "2024"
    article = write_article(drafts, "banjir.txt", "BATURAJA - OKES.NEWS - Banjir melanda tiga desa di Baturaja.")
    ingested = run(drafts, "ingest", "banjir.txt")
    assert ingested.returncode == 0 and "1 created" in ingested.stdout, ingested.stderr
    built = run(drafts, "build")
    assert built.returncode == 0, built.stderr
    assert files_below(drafts) == {"banjir.txt"}           # no second store, no second public/
    assert b"Banjir melanda" in (site / "public" / "atom.xml").read_bytes()
    assert b"https://okes.news/" in (site / "public" / "atom.xml").read_bytes()
    status = json.loads(run(drafts, "status", "--json").stdout)
    assert status["store"]["path"] == str(site / "data" / "feedpub.sqlite3")
    assert status["config"] == str(site / "feedpub.toml") and status["store"]["published"] == 1
    assert article.exists()


def test_feedpub_config_names_the_site_from_any_folder_and_config_wins_over_it(site, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    article = write_article(elsewhere, "pasar.txt", "Harga cabai naik di Pasar Baturaja.")
    env = {"FEEDPUB_CONFIG": str(site / "feedpub.toml")}
    assert "1 created" in run(elsewhere, "ingest", "pasar.txt", env=env).stdout
    assert files_below(elsewhere) == {"pasar.txt"}
    assert json.loads(run(elsewhere, "status", "--json", env=env).stdout)["store"]["published"] == 1
    other = make_site(tmp_path / "other")
    assert "1 created" in run(elsewhere, "ingest", "pasar.txt", "--config", str(other / "feedpub.toml"),
                              env=env).stdout   # --config first: the other site's store
    assert (other / "data" / "feedpub.sqlite3").exists()
    missing = run(elsewhere, "status", env={"FEEDPUB_CONFIG": str(tmp_path / "nope.toml")})
    assert missing.returncode == 2 and "FEEDPUB_CONFIG" in missing.stderr and "nope.toml" in missing.stderr


def test_paths_in_a_configuration_file_are_relative_to_the_file(tmp_path):
    folder = tmp_path / "situs"
    folder.mkdir()
    (folder / "feedpub.toml").write_text('[store]\npath = "db/berita.sqlite3"\n[output]\npath = "www"\n',
                                         encoding="utf-8")
    write_article(tmp_path, "a.txt", "Berita singkat dari Baturaja.")
    assert run(tmp_path, "--config", "situs/feedpub.toml", "ingest", "a.txt").returncode == 0
    assert run(tmp_path, "--config", "situs/feedpub.toml", "build").returncode == 0
    assert (folder / "db" / "berita.sqlite3").exists() and (folder / "www" / "atom.xml").exists()
    assert not (tmp_path / "db").exists() and not (tmp_path / "www").exists()


def test_feedpub_init_writes_a_commented_configuration_and_creates_the_store(tmp_path):
    result = run(tmp_path, "init", "--title", "OKES.NEWS", "--language", "en", "--timezone", "Asia/Makassar")
    assert result.returncode == 0, result.stderr
    path, store = tmp_path / "feedpub.toml", tmp_path / "data" / "feedpub.sqlite3"
    assert f"wrote {path}" in result.stdout and f"created a new store at {store}" in result.stdout
    assert store.exists()
    text = path.read_text(encoding="utf-8")
    config = load_config(path, env={})
    assert (config.site.title, config.site.language, config.site.timezone) == ("OKES.NEWS", "en", "Asia/Makassar")
    assert config.sample is False   # a real site never gets the sample article
    # Every section and key is in the file; each key left commented out shows its default:
    # uncommented, the configuration is the same.
    raw = tomllib.loads(text)
    assert set(raw) == set(DEFAULTS) - {"sources", "partners"} and "[[sources]]" in text and "[partners.msn]" in text
    for section, keys in DEFAULTS.items():
        if section in ("sources", "partners"):   # tables of their own, shown as examples
            continue
        for key in keys:
            assert re.search(rf"^(# )?{key} = ", text.split(f"[{section}]\n", 1)[1].split("\n[", 1)[0], re.M), \
                f"{section}.{key} is not in the file"
    uncommented = re.sub(r"^# ([a-z_]+ = )", r"\1", text, flags=re.M)
    (tmp_path / "all.toml").write_text(uncommented, encoding="utf-8")
    assert replace(load_config(tmp_path / "all.toml", env={}), source="") == replace(config, source="")

    again = run(tmp_path, "init", "--title", "Lain")
    assert again.returncode == 2 and "already exists" in again.stderr
    assert path.read_text(encoding="utf-8") == text
    elsewhere = run(tmp_path, "init", "--config", "lain.toml")
    assert elsewhere.returncode == 2 and "give the folder instead" in elsewhere.stderr


def test_feedpub_init_refuses_a_bad_value_and_writes_nothing(tmp_path):
    result = run(tmp_path, "init", "--timezone", "Asia/Baturaja")
    assert result.returncode == 2 and "site.timezone: unknown time zone 'Asia/Baturaja'" in result.stderr
    assert files_below(tmp_path) == set()


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["history", "rakor"], ["stats"],
                                     ["delete", "rakor"], ["unpublish", "rakor"]])
def test_a_command_that_only_reads_never_creates_a_store(tmp_path, command):
    result = run(tmp_path, *command)
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert f"no store at {tmp_path / 'data' / 'feedpub.sqlite3'}" in result.stderr
    assert "feedpub init" in result.stderr and "embedded defaults" in result.stderr
    assert files_below(tmp_path) == set()


def test_ingest_and_build_in_a_folder_with_neither_say_they_created_a_store_and_where(tmp_path):
    article = write_article(tmp_path / "naskah", "a.txt", "Berita singkat dari Baturaja.")
    first = run(tmp_path, "ingest", str(article))
    store = tmp_path / "data" / "feedpub.sqlite3"
    assert first.returncode == 0 and store.exists()
    assert f"created a new store at {store} (the embedded defaults" in first.stderr
    again = run(tmp_path, "ingest", str(article))
    assert again.returncode == 0 and "created a new store" not in again.stderr
    other = tmp_path / "lain"
    other.mkdir()
    built = run(other, "build")
    assert built.returncode == 0 and f"created a new store at {other / 'data' / 'feedpub.sqlite3'}" in built.stderr
