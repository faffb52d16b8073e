"""The one error the XDS wire layer raises: what is wrong, where, and which XDS error code it maps to.

Every parser in ``nsp_sandbox.xds`` turns malformed input into :class:`XdsWireError` (never a bare
exception), so a transaction handler can answer with a SOAP fault or a ``RegistryResponse`` carrying a
``RegistryError`` (ITI TF-3 Table 4.2.4.1-2) instead of a crash.
"""

from __future__ import annotations

from typing import Literal

# Which SOAP fault family the error belongs to (SOAP 1.2 Part 1 §5.4.6; SOAP 1.1 §4.4.1 Client/Server).
FaultSide = Literal["Sender", "Receiver", "VersionMismatch", "MustUnderstand"]


class XdsWireError(ValueError):
    """A precise complaint about an XDS.b message.

    ``message`` says what is wrong, ``location`` where (an element path such as
    ``/Envelope/Body/AdhocQueryRequest/AdhocQuery/Slot[2]``, a MIME part, or an HL7 field),
    ``xds_code`` the ITI TF-3 error code a registry would report (``XDSRegistryError`` by default),
    and ``side`` whether the sender or the receiver is at fault.
    """

    def __init__(
        self,
        message: str,
        location: str = "",
        *,
        xds_code: str = "XDSRegistryError",
        side: FaultSide = "Sender",
    ) -> None:
        self.message = message
        self.location = location
        self.xds_code = xds_code
        self.side = side
        super().__init__(f"{message} (at {location})" if location else message)
