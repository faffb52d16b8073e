"""R4 constraints answered from the shape of the data where it decides them, and evaluated as written otherwise.

Each is recognised by its exact expression text (the one R4 defines: the tests check that the loaded packages
define it so) and wraps the compiled expression's runner (:func:`answered_at_once`). Whatever it reads, it reads
through the model's own navigation (:func:`~nsp_sandbox.conformance.fhirpath.model.navigate`), as the expression
does, and it answers only where the answer cannot differ from the expression's: every other shape, a malformed one
included, goes to the expression. The tests compare both answers with the expression's own (the compiled engine's on
a text it does not recognise, and fhirpathpy's) over malformed shapes too.

* ``dom-3`` (DomainResource): true when every contained resource is named ``#id`` by a reference below the
  resource;
* ``ref-1`` (Reference): true for a reference that does not start with ``#``; for ``#id``, whether a contained
  resource of the root resource has that id;
* ``bdl-3`` and ``bdl-4`` (Bundle): whether every entry has a ``request`` (a ``response``) exactly when the
  Bundle's one ``type`` says it must;
* ``bdl-7`` (Bundle): true when the Bundle is a ``history``, or when the entries' ``fullUrl`` and
  ``meta.versionId``, put together, are all different texts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from nsp_sandbox.conformance.fhirpath import item_of
from nsp_sandbox.conformance.fhirpath.equality import is_temporal
from nsp_sandbox.conformance.fhirpath.model import navigate, object_children
from nsp_sandbox.conformance.fhirpath.values import Item

Runner = Callable[[Any, str, dict[str, Any], dict[str, Any]], list[Any]]
"""A compiled constraint: (focus, its type, %resource, %rootResource) → the expression's result."""


# dom-3 (DomainResource): a contained resource is referred to from elsewhere in the resource, or refers to it.
DOM_3: Final = (
    "contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().as(canonical) | "
    "%resource.descendants().as(uri) | %resource.descendants().as(url))) or descendants().where(reference = '#')"
    ".exists() or descendants().where(as(canonical) = '#').exists() or descendants().where(as(canonical) = '#')"
    ".exists()).not()).trace('unmatched', id).empty()")


# ref-1 (Reference): a local reference ("#id") names a contained resource.
REF_1: Final = ("reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
                "%rootResource.contained.id.trace('ids'))")


# bdl-3, bdl-4 (Bundle): a request, or a response, in every entry exactly when the Bundle's type says so.
BDL_3: Final = ("entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' or "
                "%resource.type = 'history'))")
BDL_4: Final = ("entry.all(response.exists() = (%resource.type = 'batch-response' or "
                "%resource.type = 'transaction-response' or %resource.type = 'history'))")


# bdl-7 (Bundle): fullUrl unique, or else the entries with the same fullUrl have different meta.versionId.
BDL_7: Final = ("(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId)"
                ".isDistinct()")


def answered_at_once(text: str, runner: Runner) -> Runner:
    """``runner`` of the expression ``text``, with its answer at once where this module has one."""
    if text == DOM_3:
        return _contained_referenced(runner)
    if text == REF_1:
        return _not_local(runner)
    if text == BDL_3:
        return _entries_with(runner, "request", ("batch", "transaction", "history"))
    if text == BDL_4:
        return _entries_with(runner, "response", ("batch-response", "transaction-response", "history"))
    if text == BDL_7:
        return _distinct_full_urls(runner)
    return runner


def _contained_referenced(runner: Runner) -> Runner:
    """dom-3's ``runner``, answering true at once when each contained resource has one text ``id`` that the
    ``reference`` of an object below the resource names as ``#id``: the first operand of the ``or`` is then true
    for every one of them, and ``where`` selects none (a DocumentReference's contained Patient, named by its
    ``context.sourcePatientInfo``). Otherwise the expression is evaluated as written.

    The contained resources, their ids and the references are found by the model's own navigation, as the
    expression finds them; the objects below the resource are some of its ``descendants()``
    (:func:`~nsp_sandbox.conformance.fhirpath.model.object_children`), so a reference found there is one the
    expression finds too."""

    def run_contained(focus: Any, focus_type: str, resource: dict[str, Any], root: dict[str, Any]) -> list[Any]:
        if type(focus) is dict and type(resource) is dict:
            contained: list[Item] = []
            navigate(item_of(focus, focus_type), "contained", contained)
            wanted: set[str] = set()
            for one in contained:
                ids: list[Item] = []
                if type(one[0]) is dict:
                    navigate(one, "id", ids)
                if len(ids) != 1 or type(ids[0][0]) is not str:
                    wanted.clear()
                    break
                wanted.add("#" + ids[0][0])
            if wanted and _references_all(item_of(resource, None), wanted):
                return [True]
        return runner(focus, focus_type, resource, root)

    return run_contained


def _not_local(runner: Runner) -> Runner:
    """ref-1's ``runner``, answering at once for a Reference whose one ``reference`` is a text, found by the model's
    own navigation:

    * true for one that does not start with "#" (the first operand of the ``or`` is then true: most references,
      which name no contained resource);
    * for ``#id`` (a local reference, ``id`` not empty), whether ``id`` is the text ``id`` of one of the root
      resource's contained resources, when each of them is an object whose ids are texts (the second operand,
      ``in`` comparing texts).

    Otherwise the expression is evaluated as written."""

    def run_not_local(focus: Any, focus_type: str, resource: dict[str, Any], root: dict[str, Any]) -> list[Any]:
        if type(focus) is dict:
            found: list[Item] = []
            navigate(item_of(focus, focus_type), "reference", found)
            if len(found) == 1:
                text = found[0][0]
                if type(text) is str:
                    if not text.startswith("#"):
                        return [True]
                    if len(text) > 1 and type(root) is dict:
                        ids = _contained_ids(root)
                        if ids is not None:
                            return [text[1:] in ids]
        return runner(focus, focus_type, resource, root)

    return run_not_local


def _contained_ids(root: dict[str, Any]) -> set[str] | None:
    """The ``id`` texts of ``root``'s contained resources (``%rootResource.contained.id``); None when one of them
    is not an object or has an id that is not a text, for the expression to read as written."""
    contained: list[Item] = []
    navigate(item_of(root, None), "contained", contained)
    ids: set[str] = set()
    found: list[Item] = []
    for one in contained:
        if type(one[0]) is not dict:
            return None
        navigate(one, "id", found)
        for value in found:
            if type(value[0]) is not str:
                return None
            ids.add(value[0])
        found.clear()
    return ids


def _references_all(resource: Item, wanted: set[str]) -> bool:
    """Is each text of ``wanted`` the ``reference`` of an object below ``resource``, as ``in`` compares texts?

    The objects are visited one by one (:func:`~nsp_sandbox.conformance.fhirpath.model.object_children`), and the
    search ends as soon as every text is met (most resources name their contained ones from their last
    elements: the contained resources themselves are then never entered)."""
    references: list[Item] = []
    pending = [resource]
    while pending:
        for found in object_children(pending.pop()):
            navigate(found, "reference", references)
            for reference in references:
                if type(reference[0]) is str and not is_temporal(reference):
                    wanted.discard(reference[0])
            if not wanted:
                return True
            references.clear()
            pending.append(found)
    return False


def _entries_with(runner: Runner, element: str, types: tuple[str, ...]) -> Runner:
    """bdl-3's (``request``) or bdl-4's (``response``) ``runner``, answering at once for a Bundle whose
    ``%resource.type`` is one text: the right side of ``=`` is then true or false, ``element.exists()`` is true or
    false for every entry, and ``all`` is true when they agree for every one (an entry that is not an object has
    no ``element``). Otherwise the expression is evaluated as written."""

    def run_entries_with(focus: Any, focus_type: str, resource: dict[str, Any], root: dict[str, Any]) -> list[Any]:
        if type(focus) is dict and type(resource) is dict:
            kinds: list[Item] = []
            navigate(item_of(resource, None), "type", kinds)
            kind = _one_text(kinds)
            if kind is not None:
                must = kind in types
                entries: list[Item] = []
                navigate(item_of(focus, focus_type), "entry", entries)
                found: list[Item] = []
                for entry in entries:
                    navigate(entry, element, found)
                    if (len(found) > 0) is not must:
                        return [False]
                    found.clear()
                return [True]
        return runner(focus, focus_type, resource, root)

    return run_entries_with


def _distinct_full_urls(runner: Runner) -> Runner:
    """bdl-7's ``runner``, answering true at once for a Bundle whose one ``type`` is ``history``, or whose ``type``
    is one text or none and whose entries with a ``fullUrl`` each give one text as ``fullUrl & resource.meta
    .versionId`` (no ``versionId``: the ``fullUrl`` alone), all of them different: the ``or``'s second operand is
    then true. Otherwise (a repeat among them, any other shape) the expression is evaluated as written."""

    def run_distinct(focus: Any, focus_type: str, resource: dict[str, Any], root: dict[str, Any]) -> list[Any]:
        if type(focus) is dict:
            bundle = item_of(focus, focus_type)
            kinds: list[Item] = []
            navigate(bundle, "type", kinds)
            kind = _one_text(kinds)
            if kind == "history":
                return [True]
            if kinds and kind is None:  # not one text: ``type = 'history'`` is for the expression to read
                return runner(focus, focus_type, resource, root)
            texts = _entry_texts(bundle)
            if texts is not None and len(set(texts)) == len(texts):
                return [True]
        return runner(focus, focus_type, resource, root)

    return run_distinct


def _entry_texts(bundle: Item) -> list[str] | None:
    """``entry.where(fullUrl.exists()).select(fullUrl & resource.meta.versionId)`` as texts; None when an entry is
    of another shape than one text ``fullUrl`` and at most one ``resource``, ``meta`` and text ``versionId``."""
    entries: list[Item] = []
    navigate(bundle, "entry", entries)
    texts: list[str] = []
    for entry in entries:
        urls: list[Item] = []
        navigate(entry, "fullUrl", urls)
        if not urls:
            continue
        url = _one_text(urls)
        if url is None:
            return None
        version = ""
        current = entry
        for name in ("resource", "meta", "versionId"):
            if type(current[0]) is not dict:
                return None
            found: list[Item] = []
            navigate(current, name, found)
            if len(found) > 1:
                return None
            if not found:
                break  # no versionId: the fullUrl alone (``&`` reads an empty operand as "")
            current = found[0]
        else:
            found_version = _one_text([current])
            if found_version is None:
                return None
            version = found_version
        texts.append(url + version)
    return texts


def _one_text(items: list[Item]) -> str | None:
    """The text of ``items`` when they are one item holding a text that compares as text (not a date or time)."""
    if len(items) == 1 and type(items[0][0]) is str and not is_temporal(items[0]):
        return str(items[0][0])
    return None
