"""What the API answers. Personal data leaves only in its masked form."""

from __future__ import annotations

from datetime import date

from ninja import Field, Schema


class ErrorOut(Schema):
    detail: str


class PersonSearchIn(Schema):
    """A people search in the request body, so an ID number or phone never sits in a URL or a log."""

    q: str = Field("", max_length=100, description="Name, or a full ID number or phone")
    region_code: str = Field("", max_length=12, description="Division code (prefix of the work region)")
    group: str = Field("", max_length=40, description="Occupation group code")
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=500)


class TokenIn(Schema):
    username: str = Field(..., max_length=150)
    password: str = Field(..., max_length=4096)


class TokenOut(Schema):
    token: str


class PersonItem(Schema):
    id: int
    name: str
    id_number_masked: str
    phone_masked: str
    region_code: str | None = Field(None, description="The 12-digit division code of the work region")
    employer: str | None = Field(None, description="Employer name")
    group: str | None = Field(None, description="Occupation group code")


class PersonDetail(PersonItem):
    birth_date: date | None = None
    sex: str = Field("", description="M or F; empty when unknown")
    home_region_code: str | None = None


class PersonPage(Schema):
    count: int
    items: list[PersonItem]


class OrgItem(Schema):
    id: int
    code: str
    name: str
    kind: str
    status: str
    parent_id: int | None = None
    region_code: str | None = None
    founded_on: date | None = None


class OrgDetail(OrgItem):
    covers_regions: list[str] = Field(default_factory=list, description="Division codes")
    covers_groups: list[str] = Field(default_factory=list, description="Occupation group codes")
    covers_employers: list[str] = Field(default_factory=list, description="Unified social credit codes")


class OrgPage(Schema):
    count: int
    items: list[OrgItem]


class RoleOut(Schema):
    org_id: int
    org_code: str
    org_name: str
    role: str


class MeOut(Schema):
    id: int
    username: str
    is_superuser: bool
    can_unmask: bool
    roles: list[RoleOut]
