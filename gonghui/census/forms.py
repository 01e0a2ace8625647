"""Forms of the census pages: the upload (step 1) and the preview with its mapping (step 2).

They only check and carry what the user typed; reading, previewing and importing are the
services' work (`census_preview`, `census_import_start`).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gonghui.accounts.selectors import viewer_scope
from gonghui.orgs.models import Org

from .models import SourceKind
from .types import FIELDS

# What each census field is called on the page (the column mapping's choices).
FIELD_LABELS = {
    "name": pgettext_lazy("person", "Name"),
    "id_number": _("ID number"),
    "id_last4": _("Last four ID characters"),
    "phone": _("Mobile"),
    "employer": _("Employer"),
    "employer_credit_code": _("Employer credit code"),
    "occupation": _("Occupation"),
    "birth_date": _("Birth date"),
    "sex": _("Sex"),
    "address": _("Address"),
    "region": _("Region"),
}
IGNORE = ""
MAPPING_CHOICES = [(IGNORE, _("(ignore)"))] + [(field, FIELD_LABELS.get(field, field)) for field in FIELDS]

ACCEPTED_SUFFIXES = (".xlsx", ".xls", ".ods", ".csv")
# A million-row CSV is about 100 MB; anything much larger is not a department's list.
DEFAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024


def max_upload_bytes() -> int:
    return int(getattr(settings, "CENSUS_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES))


def importing_orgs(viewer):
    """The unions a viewer may import for: those they hold a role in (a superuser: any federation)."""
    if viewer_scope(viewer).is_global:
        return Org.objects.filter(kind="federation").order_by("path")
    return Org.objects.filter(roles__user=viewer).distinct().order_by("path")


class _SourceFields(forms.Form):
    source_kind = forms.ChoiceField(label=_("Source kind"), choices=SourceKind.choices)
    name = forms.CharField(
        label=_("Source name"),
        max_length=200,
        required=False,
        help_text=_("e.g. 美团骑手名册; the file name when left empty"),
    )
    org = forms.ModelChoiceField(label=_("Importing union"), queryset=Org.objects.none(), empty_label=None)
    sheet = forms.CharField(
        label=_("Sheet"),
        max_length=100,
        required=False,
        help_text=_("Name or number (from 1); the first sheet when left empty"),
    )

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = importing_orgs(viewer)


class UploadForm(_SourceFields):
    """Step 1: the file and where it comes from. Nothing is written to the database."""

    file = forms.FileField(
        label=_("File"),
        help_text=_(".xlsx, .xls, .ods or .csv (UTF-8 or GBK)"),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(ACCEPTED_SUFFIXES)}),
    )
    field_order = ["file", "source_kind", "name", "org", "sheet"]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(ACCEPTED_SUFFIXES):
            raise forms.ValidationError(_("Only .xlsx, .xls, .ods and .csv files can be imported."))
        if upload.size > max_upload_bytes():
            raise forms.ValidationError(_("The file is too large to import from the web page."))
        return upload


class ConfirmForm(_SourceFields):
    """Step 2: the previewed file (by token), the sheet, and one mapping choice per column."""

    token = forms.CharField(widget=forms.HiddenInput)
    previewed_sheet = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, headers: list[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = list(headers)
        for index, header in enumerate(self.headers):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=header or _("(no header)"), choices=MAPPING_CHOICES, required=False
            )

    def column_fields(self):
        """(header, bound field) per column, in the file's order, for the template."""
        return [(header, self[f"col_{index}"]) for index, header in enumerate(self.headers)]

    def chosen_mapping(self) -> dict[str, str]:
        """{header: field} as the user left it; an ignored column maps to ""."""
        return {
            header: self.cleaned_data.get(f"col_{index}", IGNORE) or IGNORE
            for index, header in enumerate(self.headers)
            if header
        }
