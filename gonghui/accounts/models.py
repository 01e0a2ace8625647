from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from gonghui.orgs.models import Org


class User(AbstractUser):
    """A person who signs in: union staff, reviewers, viewers. What they see comes from their roles."""

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")


class RoleKind(models.TextChoices):
    ADMIN = "admin", _("administrator")
    STAFF = "staff", _("staff")
    REVIEWER = "reviewer", _("reviewer")
    VIEWER = "viewer", _("viewer")


class Role(models.Model):
    """A user's role in one org: it grants sight of that org's subtree and nothing above or beside it."""

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="roles")
    org = models.ForeignKey(Org, verbose_name=_("organisation"), on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(_("role"), max_length=20, choices=RoleKind.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        constraints = [models.UniqueConstraint(fields=["user", "org"], name="role_one_per_user_org")]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.org}"


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 is stored; the token is shown once."""

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.user} · {self.key_hash[:8]}…"
