"""Honour certificates: the signed verification token, the public check, and the PDF.

The certificate's QR code opens `/honours/verify/<token>/`. The token is signed (`django.core.signing`,
salted for this use, keyed by SECRET_KEY) and names the honour and its certificate number, so nobody
can make a valid page for a number they guess; it holds no name or ID number. The page shows only
the masked name, the title, the conferring union, the date and whether the honour stands or was
revoked (revoking needs nothing else: the check reads the register).

The PDF is drawn with ReportLab in a CJK TrueType font embedded as a subset (WenQuanYi Micro Hei
from fonts-wqy-microhei, or another the settings name); on a machine without one it falls back to
ReportLab's built-in CID font STSong-Light, which PDF readers supply themselves (not embedded).
A certificate is a Chinese document whatever the page language: it is drawn in zh-hans.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import segno
from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from gonghui.lib.masking import mask_name

from .models import Honour, HonourKind

CERTIFICATE_SALT = "gonghui.honours.certificate.v1"
FONT_CANDIDATES = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
)
FALLBACK_CID_FONT = "STSong-Light"


@dataclass(frozen=True)
class HonourCheck:
    """What the public verification page may show; `found` is False for a forged or unknown token."""

    found: bool
    revoked: bool = False
    masked_name: str = ""
    title: str = ""
    union: str = ""
    conferred_on: dt.date | None = None

    @property
    def valid(self) -> bool:
        return self.found and not self.revoked


def certificate_token(honour: Honour) -> str:
    """The signed token in a certificate's QR code (URL-safe; no personal data in it)."""
    return signing.Signer(salt=CERTIFICATE_SALT).sign_object(
        {"h": honour.pk, "c": honour.certificate_no}, compress=True
    )


def certificate_check(token: str) -> HonourCheck:
    """Whether the honour behind `token` is registered and not revoked. A forged or altered token is not found."""
    try:
        data = signing.Signer(salt=CERTIFICATE_SALT).unsign_object(token)
        honour_id, number = int(data["h"]), str(data["c"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return HonourCheck(found=False)
    honour = Honour.objects.filter(pk=honour_id, certificate_no=number).select_related("conferred_by").first()
    if honour is None:
        return HonourCheck(found=False)
    return HonourCheck(
        found=True,
        revoked=honour.revoked,
        masked_name=mask_name(honour.holder_name),
        title=honour.title,
        union=honour.conferred_by.name,
        conferred_on=honour.conferred_on,
    )


def verify_url(request, honour: Honour) -> str:
    """The absolute verification URL (GONGHUI_PUBLIC_URL when behind a proxy, else this host)."""
    path = reverse("honours:verify", args=[certificate_token(honour)])
    base = settings.GONGHUI_PUBLIC_URL.rstrip("/")
    return f"{base}{path}" if base else request.build_absolute_uri(path)


@cache
def certificate_font() -> tuple[str, bool]:
    """The registered font name for certificates and whether it is embedded (a TrueType CJK font found)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    configured = getattr(settings, "GONGHUI_CERTIFICATE_FONT", "")
    candidates = ((configured, 0),) + FONT_CANDIDATES if configured else FONT_CANDIDATES
    for path, index in candidates:
        if Path(path).is_file():
            name = f"GonghuiCJK-{Path(path).stem}"
            pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
            return name, True
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_CID_FONT))
    return FALLBACK_CID_FONT, False


def _qr(canvas, data: str, *, x: float, y: float, size: float) -> None:
    """Draw `data` as a QR code (error correction M) of `size` points, lower-left corner at (x, y), as vectors."""
    matrix = segno.make(data, error="m", micro=False).matrix
    module = size / len(matrix)
    for row_index, row in enumerate(matrix):
        top = y + size - (row_index + 1) * module
        start = None
        for col_index, dark in enumerate([*row, 0]):
            if dark and start is None:
                start = col_index
            elif not dark and start is not None:
                canvas.rect(x + start * module, top, (col_index - start) * module, module, stroke=0, fill=1)
                start = None


def _amount(value) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def certificate_pdf(honour: Honour, *, verify: str) -> bytes:
    """The certificate of `honour` as an A4 landscape PDF, with its verification QR code and URL."""
    from reportlab.lib.colors import HexColor
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    font, _embedded = certificate_font()
    width, height = landscape(A4)
    red = HexColor("#b3261e")
    out = io.BytesIO()
    with translation.override("zh-hans"):
        canvas = Canvas(out, pagesize=(width, height), invariant=True, initialFontName=font)
        canvas.setTitle(f"{_('Certificate of honour')} {honour.certificate_no}")
        canvas.setAuthor(honour.conferred_by.name)
        canvas.setSubject(honour.title)
        canvas.setStrokeColor(red)
        canvas.setLineWidth(3)
        canvas.rect(12 * mm, 12 * mm, width - 24 * mm, height - 24 * mm)
        canvas.setLineWidth(0.8)
        canvas.rect(16 * mm, 16 * mm, width - 32 * mm, height - 32 * mm)

        canvas.setFillColor(red)
        canvas.setFont(font, 40)
        canvas.drawCentredString(width / 2, height - 48 * mm, _("Certificate of honour"))

        canvas.setFillColor(HexColor("#1a1a1a"))
        canvas.setFont(font, 20)
        left = 40 * mm
        canvas.drawString(left, height - 75 * mm, f"{honour.holder_name}：")
        canvas.setFont(font, 16)
        lines = [
            _("For: %(source)s") % {"source": honour.source_label},
            _("Awarded: %(title)s (%(level)s)")
            % {"title": honour.title, "level": honour.get_level_display()},
        ]
        if honour.kind == HonourKind.CASH and honour.amount is not None:
            lines.append(_("Cash award: %(amount)s yuan (before tax).") % {"amount": _amount(honour.amount)})
        if honour.revoked:
            lines.append(_("This honour has been revoked."))
        for number, line in enumerate(lines):
            canvas.drawString(left + 12 * mm, height - (90 + 11 * number) * mm, line)

        canvas.setFont(font, 16)
        right = width - 40 * mm
        conferrers = [honour.conferred_by.name, *filter(None, honour.conferred_with.split("、"))]
        for number, name in enumerate(conferrers):
            canvas.drawRightString(right, 62 * mm - number * 8 * mm, name)
        canvas.drawRightString(
            right,
            62 * mm - len(conferrers) * 8 * mm,
            f"{honour.conferred_on.year}年{honour.conferred_on.month}月{honour.conferred_on.day}日",
        )

        qr_size = 30 * mm
        _qr(canvas, verify, x=left, y=34 * mm, size=qr_size)
        canvas.setFont(font, 10)
        canvas.drawString(
            left, 28 * mm, _("Certificate number: %(number)s") % {"number": honour.certificate_no}
        )
        canvas.setFont(font, 6)
        canvas.drawString(left, 23 * mm, verify)
        canvas.setFont(font, 8)
        canvas.drawString(left + qr_size + 4 * mm, 36 * mm, _("Scan to check this certificate"))
        if honour.policy_document:
            canvas.drawString(
                left + qr_size + 4 * mm,
                41 * mm,
                _("Under: %(document)s") % {"document": honour.policy_document},
            )
        canvas.showPage()
        canvas.save()
    return out.getvalue()
