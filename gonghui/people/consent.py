"""The consent texts a person agrees to, kept as dated, versioned data under `policies/consent/`.

One YAML file per purpose (`membership.yaml`, ...). Each version holds the notice and the items a
person consents to, one by one (`notice` for the general processing notice, then each sensitive
item such as `id_number` and `phone`), in Chinese and English. A `ConsentRecord` names the
version its person agreed to, so versions are never edited once in force: a changed text is a
new version with a later effective date. Loading validates the file, so a malformed text fails
at load time rather than on a worker's phone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml
from django.utils import timezone
from django.utils.translation import get_language

CONSENT_DIR = Path(__file__).resolve().parents[2] / "policies" / "consent"

__all__ = [
    "CONSENT_DIR",
    "ConsentItem",
    "ConsentPolicyError",
    "ConsentText",
    "consent_text",
    "consent_text_version",
    "consent_versions",
]


class ConsentPolicyError(ValueError):
    """A consent policy file that is missing or malformed, or a version it does not have."""


def _pick(texts: dict[str, str], language: str | None = None) -> str:
    language = (language or get_language() or "zh-hans").lower()
    key = "en" if language.startswith("en") else "zh"
    return texts.get(key) or texts.get("zh") or ""


@dataclass(frozen=True)
class ConsentItem:
    """One thing a person consents to: the notice, or one sensitive item (a separate consent)."""

    code: str
    labels: dict[str, str]
    texts: dict[str, str]

    @property
    def label(self) -> str:
        return _pick(self.labels)

    @property
    def text(self) -> str:
        return _pick(self.texts)


@dataclass(frozen=True)
class ConsentText:
    """One version of the consent text for a purpose, as shown to the person."""

    purpose: str
    version: str
    effective: dt.date
    issuer: str
    document: str
    titles: dict[str, str]
    notices: dict[str, str]
    items: tuple[ConsentItem, ...]

    @property
    def title(self) -> str:
        return _pick(self.titles)

    @property
    def notice(self) -> str:
        return _pick(self.notices)

    @property
    def item_codes(self) -> tuple[str, ...]:
        return tuple(item.code for item in self.items)


def _texts(value, where: str) -> dict[str, str]:
    if isinstance(value, str):
        return {"zh": value.strip()}
    if not isinstance(value, dict) or "zh" not in value:
        raise ConsentPolicyError(f"{where}: needs a Chinese text (zh)")
    return {str(k): str(v or "").strip() for k, v in value.items()}


@cache
def consent_versions(purpose: str, directory: Path | None = None) -> tuple[ConsentText, ...]:
    """Every version of the consent text for `purpose`, oldest first (validated once, cached)."""
    path = (directory or CONSENT_DIR) / f"{purpose}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConsentPolicyError(f"{path}: {exc}") from None
    if not isinstance(data, dict) or not data.get("versions"):
        raise ConsentPolicyError(f"{path.name}: needs issuer, document and a list of versions")
    texts = []
    for n, version in enumerate(data["versions"], start=1):
        where = f"{path.name} version {n}"
        try:
            effective = version["effective"]
            if isinstance(effective, str):
                effective = dt.date.fromisoformat(effective)
            items = tuple(
                ConsentItem(
                    code=str(item["code"]),
                    labels=_texts(item["label"], f"{where} item {item['code']} label"),
                    texts=_texts(item.get("text") or "", f"{where} item {item['code']} text"),
                )
                for item in version["items"]
            )
            text = ConsentText(
                purpose=purpose,
                version=str(version["version"]),
                effective=effective,
                issuer=str(data["issuer"]),
                document=str(data["document"]),
                titles=_texts(version["title"], f"{where} title"),
                notices=_texts(version["notice"], f"{where} notice"),
                items=items,
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ConsentPolicyError):
                raise
            raise ConsentPolicyError(
                f"{where}: needs version, effective, title, notice and items ({exc})"
            ) from None
        if "notice" not in text.item_codes or len(set(text.item_codes)) != len(text.item_codes):
            raise ConsentPolicyError(f"{where}: items need the code 'notice' and no code twice")
        texts.append(text)
    if len({t.version for t in texts}) != len(texts):
        raise ConsentPolicyError(f"{path.name}: a version appears twice")
    return tuple(sorted(texts, key=lambda t: t.effective))


def consent_text(purpose: str, *, on: dt.date | None = None, directory: Path | None = None) -> ConsentText:
    """The consent text in force for `purpose` on `on` (default today)."""
    on = on or timezone.localdate()
    versions = consent_versions(purpose, directory)
    in_force = [t for t in versions if t.effective <= on]
    if not in_force:
        raise ConsentPolicyError(f"{purpose}: 没有 {on} 时有效的告知同意文本")
    return in_force[-1]


def consent_text_version(purpose: str, version: str, *, directory: Path | None = None) -> ConsentText:
    """One named version of the consent text for `purpose`; ConsentPolicyError if there is none."""
    for text in consent_versions(purpose, directory):
        if text.version == version:
            return text
    raise ConsentPolicyError(f"告知同意文本 {purpose} 没有版本 {version}")
