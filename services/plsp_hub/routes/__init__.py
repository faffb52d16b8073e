"""The hub's HTTP face, one router per part of the interface (``router(...) -> APIRouter``)."""
