"""The hub's work, assembled: keeping each clinic's diagnosis cards (``cards``) and notes (``notes``),
taking ready-made documents (``ready_made``), serving documents when DDS retrieves them
(``retrieval``) and the timed work (``purge``). What they share is built here once and passed to
each: the event log, the DDS registration (``dds_registration``), what is shared now
(``shared_now``) and the hub's settings.

Nothing here holds a database transaction across an HTTP call (DDS may share the database).
"""

from __future__ import annotations

from nsp_sandbox.context import SandboxContext
from services.plsp_hub.cards import Cards
from services.plsp_hub.dds_registration import Registrar
from services.plsp_hub.events import EventLog
from services.plsp_hub.hub_settings import HubSettings
from services.plsp_hub.notes import Notes
from services.plsp_hub.nsp import HubNsp
from services.plsp_hub.purge import Purge
from services.plsp_hub.ready_made import ReadyMade
from services.plsp_hub.retrieval import Retrieval
from services.plsp_hub.shared_now import SharedNow


class Hub:
    """The hub's parts, each handling one kind of request, over one event log and one DDS registrar."""

    def __init__(self, context: SandboxContext, nsp: HubNsp) -> None:
        self.events = EventLog(context.database, context.clock)
        self.settings = HubSettings(context)
        registrar = Registrar(context, nsp, self.events)
        shared = SharedNow(context, registrar)
        self.cards = Cards(context, self.events, registrar, shared)
        self.notes = Notes(context, nsp, self.events, registrar, shared, self.settings)
        self.ready_made = ReadyMade(context, nsp, self.cards, self.notes)
        self.purge = Purge(context, self.events, shared)
        self.retrieval = Retrieval(context, self.events, shared, self.purge)
