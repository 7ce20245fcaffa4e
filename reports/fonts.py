"""Fonts that write Chinese in the PDFs: ReportLab's CID font STSong-Light.

The standard PDF fonts (Helvetica) have no Chinese glyphs. STSong-Light is one of the
Adobe Asian fonts that PDF readers know by name: ReportLab writes a reference to it and
its Unicode encoding, not the glyphs, so there is no font file in the repository and the
documents stay small; a reader without Adobe's Asian font pack substitutes a CJK font of
its own (poppler's does so through fontconfig).

A Chinese document sets all its text in STSong-Light (its Latin letters and digits are
fine, and Chinese lines wrap between characters). An English document keeps Helvetica
and switches to STSong-Light only for runs of Chinese characters, e.g. an agent's name.
"""

import re
from functools import cache
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Group, String
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

LATIN = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
CJK = "STSong-Light"

# CJK radicals, kana, ideographs, CJK punctuation, compatibility ideographs and full-width
# forms: what Helvetica cannot write.
_CJK_RUN = re.compile("[\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]+")


@cache
def register_cjk() -> str:
    """Register STSong-Light with ReportLab (once per process) and return its name."""
    pdfmetrics.registerFont(UnicodeCIDFont(CJK))
    return CJK


def is_chinese(locale: str) -> bool:
    """Whether `locale` (`zh_CN`, `zh-CN`, `zh`, `en` ...) is a Chinese one."""
    return locale.replace("-", "_").lower().startswith("zh")


def has_cjk(text: str) -> bool:
    """Whether `text` holds a character Helvetica cannot write."""
    return _CJK_RUN.search(text) is not None


def font_for(text: str, *, cjk_document: bool, bold: bool = False) -> str:
    """The font one piece of plain text (a table cell, a chart label) is set in."""
    if cjk_document or has_cjk(text):
        return register_cjk()
    return LATIN_BOLD if bold else LATIN


def markup(text: str, *, cjk_document: bool) -> str:
    """`text` escaped for a Paragraph, its Chinese runs set in the CJK font when the
    paragraph's own font is a Latin one."""
    escaped = escape(text)
    if cjk_document:
        return escaped
    register_cjk()
    return _CJK_RUN.sub(lambda run: f'<font face="{CJK}">{run.group(0)}</font>', escaped)


def use_cjk_font(drawing: Drawing, *, cjk_document: bool) -> Drawing:
    """The chart `drawing` (from `reports.charts`) with its labels switched to the CJK
    font: all of them in a Chinese document, those holding Chinese in an English one.
    Changed in place and returned; the chart's shapes and positions stay as they are."""
    nodes: list[object] = list(drawing.contents)
    while nodes:
        node = nodes.pop()
        if isinstance(node, Group):
            nodes.extend(node.contents)
        elif isinstance(node, String) and (cjk_document or has_cjk(node.text)):
            node.fontName = register_cjk()
    return drawing
