<?xml version="1.0" encoding="UTF-8"?>
<!--
  feedpub: what a person sees when a browser opens rss.xml or atom.xml.

  XSLT 1.0 (the only version browsers run), one file, no external resources and no
  script: the feeds point at it with <?xml-stylesheet type="text/xsl" href="..."?>.
  Feed readers ignore that instruction and read the XML as before.
  Handles RSS 2.0 (/rss/channel) and Atom 1.0 (/atom:feed). Interface text is
  Indonesian when the feed's language is id or ms, English otherwise.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    exclude-result-prefixes="atom">

  <xsl:output method="html" encoding="UTF-8" indent="yes" doctype-system="about:legacy-compat"/>

  <!-- The feed's language: RSS <language>, Atom xml:lang. -->
  <xsl:variable name="lang" select="normalize-space(/rss/channel/language | /atom:feed/@xml:lang)"/>
  <xsl:variable name="lang2" select="translate(substring($lang, 1, 2), 'IDMS', 'idms')"/>
  <xsl:variable name="id" select="$lang2 = 'id' or $lang2 = 'ms'"/>

  <xsl:template name="text">
    <xsl:param name="key"/>
    <xsl:choose>
      <xsl:when test="$id">
        <xsl:choose>
          <xsl:when test="$key = 'feed'">Feed</xsl:when>
          <xsl:when test="$key = 'latest'">Artikel terbaru</xsl:when>
          <xsl:when test="$key = 'none'">Belum ada artikel.</xsl:when>
          <xsl:when test="$key = 'updated'">Diperbarui</xsl:when>
          <xsl:when test="$key = 'website'">Kunjungi situs</xsl:when>
          <xsl:when test="$key = 'how'">Cara berlangganan</xsl:when>
          <xsl:when test="$key = 'note'">Halaman ini adalah feed berita. Untuk berlangganan, salin alamat di bawah ini ke aplikasi pembaca feed (feed reader) Anda; artikel baru akan muncul di sana secara otomatis.</xsl:when>
          <xsl:when test="$key = 'address'">Alamat feed:</xsl:when>
        </xsl:choose>
      </xsl:when>
      <xsl:otherwise>
        <xsl:choose>
          <xsl:when test="$key = 'feed'">Feed</xsl:when>
          <xsl:when test="$key = 'latest'">Latest articles</xsl:when>
          <xsl:when test="$key = 'none'">Nothing published yet.</xsl:when>
          <xsl:when test="$key = 'updated'">Updated</xsl:when>
          <xsl:when test="$key = 'website'">Visit the website</xsl:when>
          <xsl:when test="$key = 'how'">How to subscribe</xsl:when>
          <xsl:when test="$key = 'note'">This page is a news feed. To subscribe, copy the address below into your feed reader; new articles will appear there automatically.</xsl:when>
          <xsl:when test="$key = 'address'">Feed address:</xsl:when>
        </xsl:choose>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- An Atom date (2024-09-18T14:30:00+07:00) as 2024-09-18 14:30 +07:00; RSS dates are shown as written. -->
  <xsl:template name="atom-date">
    <xsl:param name="value"/>
    <xsl:variable name="tail" select="substring($value, 20)"/>
    <xsl:value-of select="concat(substring($value, 1, 10), ' ', substring($value, 12, 5))"/>
    <xsl:choose>
      <xsl:when test="contains($tail, '+')"><xsl:value-of select="concat(' +', substring-after($tail, '+'))"/></xsl:when>
      <xsl:when test="contains($tail, '-')"><xsl:value-of select="concat(' -', substring-after($tail, '-'))"/></xsl:when>
      <xsl:when test="contains($tail, 'Z') or contains($tail, 'z')"> UTC</xsl:when>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="/">
    <xsl:choose>
      <xsl:when test="rss/channel">
        <xsl:call-template name="page">
          <xsl:with-param name="title" select="rss/channel/title"/>
          <xsl:with-param name="description" select="rss/channel/description"/>
          <xsl:with-param name="home" select="rss/channel/link"/>
          <xsl:with-param name="self" select="rss/channel/atom:link[@rel = 'self']/@href"/>
          <xsl:with-param name="updated" select="rss/channel/lastBuildDate"/>
          <xsl:with-param name="format" select="'RSS 2.0'"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise>
        <xsl:call-template name="page">
          <xsl:with-param name="title" select="atom:feed/atom:title"/>
          <xsl:with-param name="description" select="atom:feed/atom:subtitle"/>
          <xsl:with-param name="home" select="atom:feed/atom:link[@rel = 'alternate' or not(@rel)][1]/@href"/>
          <xsl:with-param name="self" select="atom:feed/atom:link[@rel = 'self']/@href"/>
          <xsl:with-param name="updated" select="atom:feed/atom:updated"/>
          <xsl:with-param name="format" select="'Atom 1.0'"/>
        </xsl:call-template>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template name="page">
    <xsl:param name="title"/>
    <xsl:param name="description"/>
    <xsl:param name="home"/>
    <xsl:param name="self"/>
    <xsl:param name="updated"/>
    <xsl:param name="format"/>
    <html>
      <xsl:if test="$lang != ''"><xsl:attribute name="lang"><xsl:value-of select="$lang"/></xsl:attribute></xsl:if>
      <head>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="referrer" content="no-referrer"/>
        <title><xsl:value-of select="$title"/> (<xsl:call-template name="text"><xsl:with-param name="key" select="'feed'"/></xsl:call-template>)</title>
        <style>
          :root { color-scheme: light dark; --accent: #0b6e4f; --muted: #5f6b66; --line: #d7ded9; --box: #eef6f2; }
          @media (prefers-color-scheme: dark) { :root { --accent: #6fd3a8; --muted: #a3b1ab; --line: #36413c; --box: #1c2a24; } }
          body { margin: 0; font: 17px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
          main { max-width: 44rem; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
          header h1 { margin: 0 0 .25rem; font-size: 1.9rem; line-height: 1.2; }
          header p { margin: .25rem 0; color: var(--muted); }
          a { color: var(--accent); }
          .badge { display: inline-block; font-size: .75rem; font-weight: 600; letter-spacing: .04em; text-transform: uppercase;
                   border: 1px solid var(--accent); color: var(--accent); border-radius: 999px; padding: .05rem .6rem; }
          #subscribe { background: var(--box); border-radius: .6rem; padding: .9rem 1.1rem; margin: 1.25rem 0 1.5rem; }
          #subscribe h2 { font-size: 1.05rem; margin: 0 0 .35rem; }
          #subscribe p { margin: .35rem 0; }
          #subscribe code { display: block; overflow-wrap: anywhere; font-size: .95rem; padding: .45rem .6rem; margin-top: .25rem;
                            border: 1px solid var(--line); border-radius: .35rem; background: Canvas; user-select: all; }
          h2.latest { font-size: 1.2rem; border-bottom: 1px solid var(--line); padding-bottom: .3rem; }
          ol { list-style: none; margin: 0; padding: 0; }
          li { padding: .9rem 0; border-bottom: 1px solid var(--line); }
          li h3 { margin: 0 0 .2rem; font-size: 1.15rem; line-height: 1.3; }
          li h3 a { text-decoration: none; }
          li h3 a:hover { text-decoration: underline; }
          time { display: block; font-size: .85rem; color: var(--muted); }
          li p { margin: .35rem 0 0; }
        </style>
      </head>
      <body>
        <main>
          <header>
            <span class="badge"><xsl:value-of select="$format"/></span>
            <h1><xsl:value-of select="$title"/></h1>
            <xsl:if test="normalize-space($description) != ''"><p><xsl:value-of select="$description"/></p></xsl:if>
            <p>
              <xsl:if test="normalize-space($updated) != ''">
                <xsl:call-template name="text"><xsl:with-param name="key" select="'updated'"/></xsl:call-template>
                <xsl:text>: </xsl:text>
                <xsl:choose>
                  <xsl:when test="/rss"><xsl:value-of select="$updated"/></xsl:when>
                  <xsl:otherwise><xsl:call-template name="atom-date"><xsl:with-param name="value" select="$updated"/></xsl:call-template></xsl:otherwise>
                </xsl:choose>
                <xsl:if test="$home"><xsl:text> · </xsl:text></xsl:if>
              </xsl:if>
              <xsl:if test="$home">
                <a href="{$home}"><xsl:call-template name="text"><xsl:with-param name="key" select="'website'"/></xsl:call-template></a>
              </xsl:if>
            </p>
          </header>
          <section id="subscribe">
            <h2><xsl:call-template name="text"><xsl:with-param name="key" select="'how'"/></xsl:call-template></h2>
            <p><xsl:call-template name="text"><xsl:with-param name="key" select="'note'"/></xsl:call-template></p>
            <xsl:if test="$self">
              <p><xsl:call-template name="text"><xsl:with-param name="key" select="'address'"/></xsl:call-template>
                <code id="feed-url"><xsl:value-of select="$self"/></code></p>
            </xsl:if>
          </section>
          <h2 class="latest"><xsl:call-template name="text"><xsl:with-param name="key" select="'latest'"/></xsl:call-template></h2>
          <xsl:choose>
            <xsl:when test="rss/channel/item | atom:feed/atom:entry">
              <ol>
                <xsl:apply-templates select="rss/channel/item | atom:feed/atom:entry"/>
              </ol>
            </xsl:when>
            <xsl:otherwise>
              <p><xsl:call-template name="text"><xsl:with-param name="key" select="'none'"/></xsl:call-template></p>
            </xsl:otherwise>
          </xsl:choose>
        </main>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="item">
    <li class="entry">
      <h3>
        <xsl:choose>
          <xsl:when test="link"><a href="{link}"><xsl:value-of select="title"/></a></xsl:when>
          <xsl:otherwise><xsl:value-of select="title"/></xsl:otherwise>
        </xsl:choose>
      </h3>
      <xsl:if test="pubDate"><time><xsl:value-of select="pubDate"/></time></xsl:if>
      <!-- feedpub's RSS <description> is the plain-text summary; it is shown as text, never as markup. -->
      <xsl:if test="normalize-space(description) != ''"><p><xsl:value-of select="description"/></p></xsl:if>
    </li>
  </xsl:template>

  <xsl:template match="atom:entry">
    <xsl:variable name="link" select="atom:link[@rel = 'alternate' or not(@rel)][1]/@href"/>
    <xsl:variable name="date" select="atom:published[1] | atom:updated[not(../atom:published)][1]"/>
    <li class="entry">
      <h3>
        <xsl:choose>
          <xsl:when test="$link"><a href="{$link}"><xsl:value-of select="atom:title"/></a></xsl:when>
          <xsl:otherwise><xsl:value-of select="atom:title"/></xsl:otherwise>
        </xsl:choose>
      </h3>
      <xsl:if test="$date">
        <time datetime="{$date}"><xsl:call-template name="atom-date"><xsl:with-param name="value" select="$date"/></xsl:call-template></time>
      </xsl:if>
      <xsl:if test="normalize-space(atom:summary) != ''"><p><xsl:value-of select="atom:summary"/></p></xsl:if>
    </li>
  </xsl:template>

</xsl:stylesheet>
