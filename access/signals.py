"""What the roles screen changes, told to whoever records it (the audit trail listens: it sits above
this app, which cannot call it)."""

from django.dispatch import Signal

# Sent with action ("role.created", "grant.added", …), actor, obj (the role or grant), before, after.
access_changed = Signal()
