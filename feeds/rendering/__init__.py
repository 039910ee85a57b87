"""Rendering: from the store's articles to document bytes, pure.

:mod:`.entries` turns articles into entries (every decision the formats share);
:mod:`.formats` renders RSS 2.0, Atom 1.0 and JSON Feed 1.1 through feedgen (with
:mod:`.extensions` for what feedgen cannot say); :mod:`.pages` renders the HTML pages
for people from Jinja2 templates and the language catalogues (:mod:`.language`);
:mod:`.catalogue` and :mod:`.archive` define the section feeds and the RFC 5005 archive
pages; :mod:`.opml` and :mod:`.logo` the site's other documents.
"""
