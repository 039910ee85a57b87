"""The command line: options in either place."""

from __future__ import annotations

import pytest

from feedpub.cli import _parser


@pytest.mark.parametrize("argv", [
    ["--config", "custom.toml", "build"],
    ["build", "--config", "custom.toml"],
    ["-v", "--config", "custom.toml", "ingest", "a.txt"],
    ["ingest", "a.txt", "--config", "custom.toml", "-v"],
])
def test_config_and_verbose_are_kept_before_or_after_the_command(argv):
    args = _parser().parse_args(argv)
    assert args.config == "custom.toml"
    assert args.verbose is ("-v" in argv)


def test_ingest_flags_repeat():
    args = _parser().parse_args(["ingest", "a.txt", "--category", "Politik", "--category", "Daerah", "--tag", "Pilkada"])
    assert (args.categories, args.tags) == (["Politik", "Daerah"], ["Pilkada"])


def test_delete_by_slug_and_an_unknown_key(tmp_path, monkeypatch, capsys):
    from feedpub.cli import main

    from .conftest import SAMPLE

    monkeypatch.chdir(tmp_path)
    assert main(["ingest", str(SAMPLE)]) == 0
    assert main(["delete", SAMPLE.stem, "tidak-ada"]) == 1
    out = capsys.readouterr().out
    assert "deleted: tag:localhost," in out and "error: no article has the id or slug 'tidak-ada'" in out
    assert main(["build"]) == 0
    assert b"Forkopimda" not in (tmp_path / "public" / "rss.xml").read_bytes()
    assert b"deleted-entry" in (tmp_path / "public" / "atom.xml").read_bytes()
