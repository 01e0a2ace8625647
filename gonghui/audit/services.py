"""The one write path for audit rows."""

from __future__ import annotations

from typing import Any

from django.db import models

from .models import AuditEvent


def audit_record(
    *,
    actor: Any | None,
    action: str,
    target: models.Model | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Write one audit row. Never holds plaintext personal data: callers pass ids and field names."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        detail=detail or {},
        ip=ip,
    )
