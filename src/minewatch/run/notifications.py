"""Notification use cases: manage subscriptions, send a test, deliver, look at the ledger.

The CLI (``minewatch subscribe ...``, ``minewatch notify ...``), ``minewatch watch`` and the
REST API call these; sending itself is :func:`minewatch.notify.notify`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import shapely

from minewatch.notify import AlertEvent, NotifyReport, NotifySettings, Outcome, Subscription
from minewatch.notify import notify as _dispatch
from minewatch.notify import send_test as _send_test
from minewatch.notify.ledger import Delivery, history
from minewatch.notify.subscriptions import new_secret, new_subscription_id
from minewatch.registry import Registry


@dataclass(frozen=True)
class NewSubscription:
    """A subscription just stored, and whether its webhook secret was generated (to show it)."""

    subscription: Subscription
    secret_generated: bool


def add_subscription(registry: Registry, *, channel: str, target: str,
                     site_id: str | None = None, aoi: shapely.Geometry | None = None,
                     min_level: int = 1, min_area_ha: float = 0.0, secret: str | None = None,
                     note: str | None = None, subscription_id: str | None = None,
                     active: bool = True) -> NewSubscription:
    """Validate and store a subscription (a webhook without ``secret`` gets a random one)."""
    generated = channel == "webhook" and not secret
    sub = Subscription(
        subscription_id=subscription_id or new_subscription_id(), channel=channel,
        target=target, site_id=site_id, aoi=aoi, min_level=min_level, min_area_ha=min_area_ha,
        secret=(new_secret() if generated else secret) if channel == "webhook" else None,
        active=active, note=note)
    registry.add_subscription(sub.record())
    return NewSubscription(Subscription.from_record(registry.subscription(sub.subscription_id)),
                           generated)


def list_subscriptions(registry: Registry) -> list[Subscription]:
    return [Subscription.from_record(r) for r in registry.subscriptions()]


def remove_subscription(registry: Registry, subscription_id: str) -> int:
    """Delete a subscription; returns how many of its pending deliveries were dropped."""
    return registry.remove_subscription(subscription_id)


def set_subscription_active(registry: Registry, subscription_id: str, active: bool) -> None:
    """Pause or resume a subscription (a paused one's deliveries wait)."""
    registry.set_subscription_active(subscription_id, active)


def send_test(registry: Registry, settings: NotifySettings,
              subscription_id: str | None = None) -> list[Outcome]:
    """Send a test event to one subscription, or to every active one."""
    return _send_test(registry, settings, subscription_id=subscription_id)


def deliver(registry: Registry, settings: NotifySettings,
            events: Iterable[AlertEvent] = ()) -> NotifyReport:
    """Record ``events`` for their subscribers and deliver everything pending."""
    return _dispatch(registry, events, settings)


def deliveries(registry: Registry, *, states: Sequence[str] | None = None,
               subscription_id: str | None = None) -> list[Delivery]:
    """The delivery ledger, oldest first."""
    return history(registry, states=states, subscription_id=subscription_id)


def requeue(registry: Registry, *, subscription_id: str | None = None,
            event_id: str | None = None) -> int:
    """Make dead letters pending again (the next delivery sends them); returns how many."""
    return registry.requeue_dead(subscription_id=subscription_id, event_id=event_id)
