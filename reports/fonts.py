"""Fonts that write Chinese in the PDFs: ReportLab's CID font STSong-Light.

The standard PDF fonts (Helvetica) have no Chinese glyphs. STSong-Light is one of the
Adobe Asian fonts that PDF readers know by name: ReportLab writes a reference to it and
its Unicode encoding, not the glyphs, so there is no font file in the repository and the
documents stay small; a reader without Adobe's Asian font pack substitutes a CJK font of
its own (poppler's does so through fontconfig).

Both languages set text in Helvetica and switch to STSong-Light for each run of Chinese
characters (a label, an agent's name): STSong-Light's own Latin letters and digits are
narrow and look cramped in a reader that substitutes another CJK font. A Chinese
document also wraps its lines between characters (the paragraph style's `wordWrap`).
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


def font_for(text: str) -> str:
    """The font one piece of plain text (a table cell, a chart label) is set in."""
    return register_cjk() if has_cjk(text) else LATIN


def markup(text: str) -> str:
    """`text` escaped for a Paragraph in a Latin font, its Chinese runs set in the CJK
    font."""
    escaped = escape(text)
    register_cjk()
    return _CJK_RUN.sub(lambda run: f'<font face="{CJK}">{run.group(0)}</font>', escaped)


def use_cjk_font(drawing: Drawing) -> Drawing:
    """The chart `drawing` (from `reports.charts`) with its labels that hold Chinese
    switched to the CJK font (`reports.charts` writes Helvetica, and its SVG for the web
    stays as it is). Changed in place and returned; shapes and positions are unchanged."""
    nodes: list[object] = list(drawing.contents)
    while nodes:
        node = nodes.pop()
        if isinstance(node, Group):
            nodes.extend(node.contents)
        elif isinstance(node, String) and has_cjk(node.text):
            node.fontName = register_cjk()
    return drawing
