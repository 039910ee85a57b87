"""The newsroom text format, on the real sample article first."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sources.errors import IngestError
from sources.newsroom import parse_newsroom_text

from .conftest import SAMPLE


def sample_lines() -> list[str]:
    return SAMPLE.read_text(encoding="utf-8").splitlines()


def test_sample_keeps_every_paragraph_in_order():
    body = parse_newsroom_text(SAMPLE.read_text(encoding="utf-8"))
    lines = sample_lines()
    expected = [line for line in lines if not line.upper().startswith("BACA JUGA")]
    expected[0] = expected[0].split(" - ", 2)[2]        # the dateline is metadata
    expected[-1] = expected[-1].removesuffix(" (*)")    # the end mark is dropped
    assert list(body.paragraphs) == expected
    assert len(body.paragraphs) == 13


def test_sample_dateline_becomes_city_and_publication():
    body = parse_newsroom_text(SAMPLE.read_text(encoding="utf-8"))
    assert (body.city, body.publication) == ("BATURAJA", "OKES.NEWS")
    assert body.lead.startswith("Menjelang Pilkada Serentak 2024")


def test_sample_related_markers_become_links_not_paragraphs():
    body = parse_newsroom_text(SAMPLE.read_text(encoding="utf-8"))
    assert body.related_titles == (
        "Bhabinkamtibmas Dituntut Mampu Ciptakan Situasi Aman dan Kondusif Selama Pemilukada",
        "AHY Tekankan Keadilan dalam Pengadaan Tanah",
    )
    joined = "\n".join(body.paragraphs)
    assert "BACA JUGA" not in joined.upper()
    assert "(*)" not in joined
    assert "BATURAJA - OKES.NEWS" not in joined


@pytest.mark.parametrize("marker", ["BACA JUGA:", "Baca Juga :", "baca juga:", "Lihat juga:", "LIHAT JUGA :",
                                    "Read also:", "READ ALSO :"])
def test_every_marker_variant_in_any_case(marker):
    body = parse_newsroom_text(f"JAKARTA - Lead.\n{marker} Judul Lain\nPenutup.")
    assert body.related_titles == ("Judul Lain",)
    assert body.paragraphs == ("Lead.", "Penutup.")


@pytest.mark.parametrize("end", ["(*)", "(**)", "(***)", "(-)", "(*/rh)"])
def test_end_marks_are_dropped(end):
    body = parse_newsroom_text(f"Lead.\nKalimat terakhir. {end}")
    assert body.paragraphs[-1] == "Kalimat terakhir."


def test_end_mark_on_its_own_line_is_dropped():
    assert parse_newsroom_text("Lead.\nAkhir.\n(*)").paragraphs == ("Lead.", "Akhir.")


def test_text_without_dateline_keeps_its_first_line():
    body = parse_newsroom_text("Hari ini - kata dia - hujan turun.\nLanjut.")
    assert body.city is None and body.publication is None
    assert body.lead == "Hari ini - kata dia - hujan turun."


def test_dateline_with_city_only():
    body = parse_newsroom_text("PALEMBANG - Banjir melanda kota.")
    assert (body.city, body.publication, body.lead) == ("PALEMBANG", None, "Banjir melanda kota.")


def test_html_is_escaped_paragraph_by_paragraph():
    body = parse_newsroom_text('A & B <script>alert(1)</script>\n"Kutipan"')
    assert body.html() == '<p>A &amp; B &lt;script&gt;alert(1)&lt;/script&gt;</p>\n<p>"Kutipan"</p>'


def test_marker_without_title_names_the_line():
    with pytest.raises(IngestError, match=r"a\.txt:3: related-link marker has no title"):
        parse_newsroom_text("Lead.\nDua.\nBACA JUGA:\n", path="a.txt")


def test_text_with_only_markers_has_no_body():
    with pytest.raises(IngestError, match="no body text"):
        parse_newsroom_text("BACA JUGA: Sesuatu\n\n", path="a.txt")


@given(st.text())
def test_any_text_parses_or_fails_clearly(text):
    try:
        body = parse_newsroom_text(text, path="fuzz.txt")
    except IngestError as exc:
        assert str(exc).startswith("fuzz.txt")
        return
    assert body.paragraphs and all(p == p.strip() and p for p in body.paragraphs)
    assert all("\x0b" not in p for p in body.paragraphs)
