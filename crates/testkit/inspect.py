"""Reads what Folio serves as its readers' software does, and reports what would run.

stdin: a JSON list of {"kind": "feed" | "xml" | "html", "text": ...}.
stdout: a JSON list of reports, one per document, in the same order.

- feed: feedparser's reading (sanitizing off, so what Folio itself wrote is judged), bozo and
  every field, each HTML-typed field with the live markup found in it.
- xml: whether a strict XML 1.0 parser (expat) accepts the document.
- html: the live markup found in an HTML page or fragment.

Live markup: a <script> (other than one loading a file from this site), <iframe>, <object>,
<embed>, <base>, <meta http-equiv=refresh>, any on*= event attribute, and javascript:,
vbscript: or data:text/html URLs in attributes that load or navigate.
"""
import json
import re
import sys
import xml.parsers.expat
from html.parser import HTMLParser

import feedparser

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster",
                  "background", "cite", "srcdoc", "lowsrc", "dynsrc", "longdesc", "codebase"}
ACTIVE_TAGS = {"iframe", "object", "embed", "base", "applet", "frame", "frameset"}


def dangerous_url(value):
    squeezed = re.sub(r"[\x00-\x20]", "", value).lower()
    return squeezed.startswith(("javascript:", "vbscript:", "data:text/html"))


class Live(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = [(name.lower(), value or "") for name, value in attrs]
        src = dict(attrs).get("src", "")
        if tag == "script" and not (src.startswith("/") and not src.startswith("//")):
            self.found.append("<script %s>" % src)
        if tag in ACTIVE_TAGS:
            self.found.append("<%s>" % tag)
        if tag == "meta" and dict(attrs).get("http-equiv", "").lower() == "refresh":
            self.found.append("<meta http-equiv=refresh>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append("<%s %s=%r>" % (tag, name, value))
            if (name in URL_ATTRIBUTES or name == "srcset") and dangerous_url(value):
                self.found.append("<%s %s=%r>" % (tag, name, value))
            if name == "style" and re.search(r"expression\s*\(|javascript:", value, re.I):
                self.found.append("<%s style=%r>" % (tag, value))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        pass


def live_markup(html):
    parser = Live()
    parser.feed(html)
    parser.close()
    return parser.found


def field(where, detail, value):
    kind = (detail or {}).get("type", "")
    report = {"where": where, "type": kind, "value": value, "live": []}
    if "html" in kind:
        report["live"] = live_markup(value)
    return report


def read_feed(text):
    parsed = feedparser.parse(text.encode("utf-8"), sanitize_html=False, resolve_relative_uris=False)
    fields = []
    feed = parsed.get("feed", {})
    for key in ("title", "subtitle"):
        if key in feed:
            fields.append(field("feed." + key, feed.get(key + "_detail"), feed[key]))
    for index, entry in enumerate(parsed.get("entries", [])):
        for key in ("title", "summary", "author"):
            if key in entry:
                fields.append(field("entry%d.%s" % (index, key), entry.get(key + "_detail"), entry[key]))
        for number, content in enumerate(entry.get("content", [])):
            fields.append(field("entry%d.content%d" % (index, number), content, content.get("value", "")))
        for tag in entry.get("tags", []):
            fields.append({"where": "entry%d.category" % index, "type": "text/plain",
                           "value": tag.get("term", ""), "live": []})
    return {
        "bozo": bool(parsed.get("bozo")),
        "bozo_exception": str(parsed.get("bozo_exception", "")),
        "version": parsed.get("version", ""),
        "entries": len(parsed.get("entries", [])),
        "fields": fields,
    }


def read_xml(text):
    parser = xml.parsers.expat.ParserCreate()
    try:
        parser.Parse(text.encode("utf-8"), True)
        return {"ok": True, "error": ""}
    except xml.parsers.expat.ExpatError as error:
        return {"ok": False, "error": str(error)}


def main():
    documents = json.load(sys.stdin)
    reports = []
    for document in documents:
        kind, text = document["kind"], document["text"]
        if kind == "feed":
            reports.append(read_feed(text))
        elif kind == "xml":
            reports.append(read_xml(text))
        else:
            reports.append({"live": live_markup(text)})
    json.dump(reports, sys.stdout)


main()
