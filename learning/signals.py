"""What learning tells the apps above it, which it must not import."""

from django.dispatch import Signal

# Sent inside the transaction that records a completion, with ``user_id``, ``completed_on``,
# ``actor`` and either ``activity`` or ``external_activity``. A receiver returns what it did for
# the completion (credentials: the certifications it awarded); an exception rolls the completion back.
completion_recorded = Signal()
