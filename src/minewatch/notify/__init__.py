"""Notifications of alert events: subscriptions, signed webhooks, e-mail digests, a ledger.

An adapter-level consumer of the registry (it imports the registry and the leaves, never
the CLI or the API). :func:`~minewatch.notify.dispatch.notify` is the one entry point for
sending; see docs/notifications.md.
"""

from minewatch.notify.dispatch import NotifyReport, Outcome, notify, send_test
from minewatch.notify.events import LEVELS, AlertEvent, chip_paths
from minewatch.notify.ledger import enqueue
from minewatch.notify.settings import NotifySettings, RetryPolicy, SmtpSettings
from minewatch.notify.subscriptions import Subscription

__all__ = ["LEVELS", "AlertEvent", "NotifyReport", "NotifySettings", "Outcome", "RetryPolicy",
           "SmtpSettings", "Subscription", "chip_paths", "enqueue", "notify", "send_test"]
