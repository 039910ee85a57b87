"""Parser for the newsroom's plain-text article format (see DESIGN.md).

    BATURAJA - OKES.NEWS - Menjelang Pilkada ...   dateline: CITY - PUBLICATION - lead
    Rapat tersebut berlangsung ...                 one paragraph per line
    BACA JUGA:Bhabinkamtibmas Dituntut ...         related-article marker, not body text
    "Kami sangat ..." tambah Choirun. (*)          (*) closes the story and is dropped

>>> body = parse_newsroom_text("JAKARTA - KABAR.ID - Hujan turun.\\nBACA JUGA: Banjir\\nSelesai. (*)")
>>> body.dateline, body.city, body.publication, body.paragraphs, body.related_titles
('JAKARTA - KABAR.ID -', 'JAKARTA', 'KABAR.ID', ('Hujan turun.', 'Selesai.'), ('Banjir',))

The parser is pure: text in, :class:`NewsroomBody` out, :class:`IngestError`
(with the line number) for text it cannot accept.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from .errors import IngestError
from .text import squash_space, xml_safe

# "CITY - PUBLICATION - lead" or "CITY - lead". Dashes may be -, – or —.
# City and publication are written in capitals; requiring that keeps an
# ordinary sentence with a dash in it ("Hari ini - kata dia - ...") from being
# taken for a dateline.
_DASH = r"\s+[-–—]\s+"
_DATELINE = re.compile(
    rf"^(?P<city>[^-–—]{{2,40}}?){_DASH}(?:(?P<pub>[^-–—\s][^-–—]{{0,40}}?){_DASH})?(?P<lead>\S.*)$"
)
# "BACA JUGA:", "Baca Juga :", "Lihat juga:", "Read also:" in any case.
RELATED_MARKER = re.compile(r"^(?:baca\s+juga|lihat\s+juga|read\s+also)\s*:\s*(?P<title>.*)$", re.IGNORECASE)
# End marks that close a story: (*), (**), (-), (*/abc) ...
END_MARK = re.compile(r"\s*\((?:\*+|-+|\*+/[^()]{1,20})\)\s*$")


@dataclass(frozen=True)
class NewsroomBody:
    city: str | None
    publication: str | None
    paragraphs: tuple[str, ...]      # plain text, in order, lead first
    related_titles: tuple[str, ...]  # marker titles as written (trailing colon removed)
    dateline: str | None = None      # "BATURAJA - OKES.NEWS -": the lead's opening, as written

    @property
    def lead(self) -> str:
        return self.paragraphs[0]

    def html(self) -> str:
        return "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in self.paragraphs)


def _is_capitalised(segment: str) -> bool:
    letters = [ch for ch in segment if ch.isalpha()]
    return bool(letters) and all(ch.isupper() for ch in letters)


def split_dateline(line: str) -> tuple[str | None, str | None, str]:
    match = _DATELINE.match(line)
    if not match or not _is_capitalised(match["city"]):
        return None, None, line
    pub = match["pub"]
    if pub is not None and not _is_capitalised(pub):
        # "CITY - Some sentence - more": only the city is a dateline.
        rest = re.sub(rf"^{_DASH}", "", line[match.end("city"):])
        return squash_space(match["city"]), None, rest.strip()
    return squash_space(match["city"]), squash_space(pub) if pub else None, match["lead"].strip()


def written_dateline(line: str, lead: str) -> str | None:
    """The dateline as the newsroom wrote it: what ``line`` holds before ``lead``
    ("BATURAJA - OKES.NEWS -"), or None when it holds nothing before it."""
    before = line[: len(line) - len(lead)].strip() if line.endswith(lead) else ""
    return before or None


def parse_newsroom_text(text: str, *, path: str | None = None, first_line: int = 1) -> NewsroomBody:
    """Parse an article body; ``first_line`` is the body's line number in its file."""
    city = publication = dateline = None
    paragraphs: list[str] = []
    related: list[str] = []
    seen_lead = False
    for offset, raw in enumerate(text.splitlines()):
        line_no = first_line + offset
        line = squash_space(xml_safe(raw))
        if not line:
            continue
        marker = RELATED_MARKER.match(line)
        if marker:
            title = marker["title"].strip().rstrip(":").strip()
            if not title:
                raise IngestError("related-link marker has no title", path=path, line=line_no)
            related.append(title)
            continue
        if not seen_lead:
            city, publication, lead = split_dateline(line)
            dateline = written_dateline(line, lead) if city is not None else None
            line = lead
            seen_lead = True
        line = END_MARK.sub("", line).strip()
        if line:
            paragraphs.append(line)
    if not paragraphs:
        raise IngestError("the article has no body text", path=path, line=first_line)
    return NewsroomBody(city, publication, tuple(paragraphs), tuple(related), dateline)
