"""Forms of the public joining pages. ID numbers and phones are checked here and never rendered back."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from gonghui.lib.idcard import InvalidIdNumber, normalize_id_number
from gonghui.lib.phone import InvalidPhone, normalize_mobile
from gonghui.orgs.models import Employer, OccupationGroup
from gonghui.people.consent import ConsentText
from gonghui.regions.models import PREFIX_LENGTH, Region, RegionLevel


class SecretInput(forms.TextInput):
    """A text box that never writes its value back into the page (ID numbers, phones)."""

    def get_context(self, name, value, attrs):
        return super().get_context(name, None, attrs)


def _id_number_field() -> forms.CharField:
    return forms.CharField(
        label=_("ID number"),
        max_length=24,
        widget=SecretInput(
            attrs={"autocomplete": "off", "inputmode": "text", "autocapitalize": "characters"}
        ),
    )


def _phone_field() -> forms.CharField:
    return forms.CharField(
        label=_("Mobile phone"),
        max_length=20,
        widget=SecretInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )


class _IdPhoneMixin:
    def clean_id_number(self):
        try:
            return normalize_id_number(self.cleaned_data["id_number"])
        except InvalidIdNumber as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_phone(self):
        try:
            return normalize_mobile(self.cleaned_data["phone"])
        except InvalidPhone as exc:
            raise forms.ValidationError(str(exc)) from None


class RegionChoiceField(forms.ModelChoiceField):
    """Townships and communities: shown as <optgroup> per county (`work_region_choices`), checked by id."""


def work_region_choices(
    queryset, *, group_level: int = RegionLevel.COUNTY, indent_level: int = RegionLevel.VILLAGE
) -> list:
    """<optgroup> per county: (county name, [(id, label), ...]) in code order, communities indented.

    Another page groups by another level (a contest's registration: by city, the city then its
    counties indented) with `group_level` and `indent_level`."""
    width = PREFIX_LENGTH[RegionLevel(group_level)]
    counties = {
        r.prefix: r.name for r in Region.objects.filter(level=group_level).only("code", "name", "level")
    }
    groups: dict[str, list] = {}
    for region in queryset:
        county = counties.get(region.code[:width], "")
        label = ("\u3000" if region.level == indent_level else "") + region.name
        groups.setdefault(county, []).append((region.pk, label))
    return [("", "---------"), *groups.items()]


def _regions():
    return Region.objects.filter(level__in=[RegionLevel.TOWNSHIP, RegionLevel.VILLAGE]).order_by("code")


def _employers():
    # Platforms and head enterprises are the employers a worker picks from; others type their name.
    return Employer.objects.filter(is_platform=True) | Employer.objects.filter(is_head_enterprise=True)


class JoinForm(_IdPhoneMixin, forms.Form):
    name = forms.CharField(
        label=_("Full name"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    id_number = _id_number_field()
    phone = _phone_field()
    employer = forms.ModelChoiceField(
        label=_("Platform or employer"), queryset=Employer.objects.none(), required=False
    )
    employer_name = forms.CharField(
        label=_("Or type your employer"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    group = forms.ModelChoiceField(
        label=_("Occupation group"), queryset=OccupationGroup.objects.all(), required=False
    )
    occupation = forms.CharField(label=_("Occupation"), max_length=100, required=False)
    work_region = RegionChoiceField(label=_("Where you work"), queryset=Region.objects.none())
    org = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    consent_version = forms.CharField(widget=forms.HiddenInput, max_length=20)

    def __init__(self, *args, consent: ConsentText, **kwargs):
        super().__init__(*args, **kwargs)
        self.consent = consent
        self.fields["employer"].queryset = _employers().order_by("name")
        regions = _regions()
        self.fields["work_region"].queryset = regions
        self.fields["work_region"].choices = work_region_choices(regions)
        self.fields["consent_version"].initial = consent.version
        for item in consent.items:
            self.fields[f"consent_{item.code}"] = forms.BooleanField(
                label=item.label,
                help_text=item.text,
                required=True,
                error_messages={"required": _("You must agree to this to join online.")},
            )

    @property
    def consent_fields(self):
        return [self[f"consent_{item.code}"] for item in self.consent.items]

    def clean_consent_version(self):
        version = self.cleaned_data["consent_version"]
        if version != self.consent.version:
            raise forms.ValidationError(
                _("The notice has changed since you opened this page; please read it again.")
            )
        return version

    def clean(self):
        data = super().clean()
        employer_name = (data.get("employer_name") or "").strip()
        if data.get("employer") is None and employer_name:
            data["employer"] = Employer.objects.filter(name=employer_name).first()
        return data

    @property
    def consent_items(self) -> list[str]:
        return [item.code for item in self.consent.items if self.cleaned_data.get(f"consent_{item.code}")]


class LookupForm(_IdPhoneMixin, forms.Form):
    id_number = _id_number_field()
    phone = _phone_field()


class UnionChoiceForm(forms.Form):
    org = forms.ChoiceField(label=_("Union"), widget=forms.RadioSelect)

    def __init__(self, *args, offers, **kwargs):
        super().__init__(*args, **kwargs)
        self.offers = offers
        self.fields["org"].choices = [(o.org.code, o.org.name) for o in offers]
        initial = next((o for o in offers if o.from_link), None) or next(
            (o for o in offers if o.suggested), None
        )
        if initial is None and offers:
            initial = offers[0]
        if initial is not None:
            self.fields["org"].initial = initial.org.code

    def chosen(self):
        code = self.cleaned_data["org"]
        return next(o.org for o in self.offers if o.org.code == code)


class TransferForm(forms.Form):
    work_region = RegionChoiceField(label=_("Where you work now"), queryset=Region.objects.none())
    employer = forms.ModelChoiceField(
        label=_("Platform or employer"), queryset=Employer.objects.none(), required=False
    )
    employer_name = forms.CharField(label=_("Or type your employer"), max_length=200, required=False)
    group = forms.ModelChoiceField(
        label=_("Occupation group"), queryset=OccupationGroup.objects.all(), required=False
    )
    reason = forms.CharField(label=_("Why you are moving"), max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["employer"].queryset = _employers().order_by("name")
        regions = _regions()
        self.fields["work_region"].queryset = regions
        self.fields["work_region"].choices = work_region_choices(regions)
