"""The shared dependencies of DDS's transaction routers, built once per app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import Request

from nsp_sandbox.context import SandboxContext
from services.dds.access.guard import Guard
from services.dds.mhd.http import Urls
from services.dds.notifier import Notifier
from services.dds.on_demand import OnDemandSources
from services.dds.registry import Registry
from services.dds.subscriptions import Subscriptions
from services.dds.validation import ContentValidation


@dataclass(frozen=True)
class Deps:
    """The registry, validation layers, access guard and on-demand sources every router uses."""

    context: SandboxContext
    registry: Registry
    validation: ContentValidation
    guard: Guard
    sources: OnDemandSources
    started: datetime
    subscriptions: Subscriptions
    notifier: Notifier

    @classmethod
    def build(cls, context: SandboxContext) -> Deps:
        """The dependencies over ``context`` (the registry's tables are created here if missing)."""
        registry = Registry(context.database)
        registry.create_tables()
        # DSUBm: events queued in the registering transaction, sent after its commit (services.dds.notifier).
        subscriptions = Subscriptions(context.database)
        notifier = Notifier(context, registry)
        registry.listeners.append(subscriptions.queue)
        registry.after_commit.append(notifier.wake)
        guard = Guard(context, subscribed=subscriptions.covers)
        if notifier.has_pending():  # queued by a process that stopped before sending them
            notifier.wake()
        return cls(context, registry, ContentValidation(context), guard, OnDemandSources(context),
                   context.clock.now(), subscriptions, notifier)

    @property
    def max_body_bytes(self) -> int:
        return self.context.settings.max_body_bytes

    def urls(self, request: Request) -> Urls:
        """This actor's absolute URLs as seen by ``request``."""
        return Urls(self.context, request)
