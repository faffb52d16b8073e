"""DDS's provides validated in a second process (``nsp_sandbox.validation_process``, as ``nsp-sandbox up`` runs
one): the lane then makes none of the engine's validations a provide asks for, and every answer is the one the
lane alone gives; a process that is not there, or dies, changes nothing but where the work is done."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from mhd_client import CPR, OTHER_CPR, Mhd, about, entry_cpr
from servers import validation_process_ready
from test_hco_consent_rule import refused_consent

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.validation_process import ValidationProcess


@pytest.fixture
def beside(context: SandboxContext) -> Iterator[ValidationProcess]:
    process = validation_process_ready(context.start_validation_process())
    yield process
    process.close()
    context.validation_process = None


def counted_in_lane(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[str]:
    """The resource types ``owner.name`` (a function of a resource) is called with on the lane's thread, in order:
    the attribute replaced by one that counts, then calls it."""
    real = getattr(owner, name)
    seen: list[str] = []

    def counted(resource: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name.startswith("cpu-lane"):
            seen.append(str(resource.get("resourceType")))
        return real(resource, *args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return seen


@pytest.fixture
def lane_validations(context: SandboxContext, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The resource types the lane's thread has the engine validate (``validate_layers``), in order."""
    return counted_in_lane(monkeypatch, context.validator, "validate_layers")


def _fresh(mhd: Mhd, content: bytes) -> bytes:
    """``content`` (the HCO example) with a fresh Bundle.id: bytes the engine has not judged before."""
    message = json.loads(content)
    message["id"] = str(time.monotonic_ns())
    return json.dumps(message).encode()


def test_the_lane_validates_nothing_the_process_has_validated(
        mhd: Mhd, beside: ValidationProcess, lane_validations: list[str]) -> None:
    response = mhd.post(mhd.bundle((mhd.document_reference(), _fresh(mhd, mhd.examples.hco))))
    assert response.status_code == 200, response.text
    # The DocumentReference and the HCO message (a Bundle) are profiled: the process judged both. The SubmissionSet
    # declares no profile: its base structure is the lane's, outside validate_layers.
    assert lane_validations == []


def test_without_the_process_the_lane_validates(mhd: Mhd, lane_validations: list[str]) -> None:
    response = mhd.post(mhd.bundle((mhd.document_reference(), _fresh(mhd, mhd.examples.hco))))
    assert response.status_code == 200, response.text
    assert lane_validations == ["DocumentReference", "Bundle"]


def _judged_bundles(mhd: Mhd) -> list[dict[str, Any]]:
    """Provides the engine or the Danish rules refuse, each for a finding in another place."""
    broken = json.loads(mhd.examples.hco)
    broken["type"] = "not-a-bundle-type"
    wrong_date = mhd.document_reference()
    wrong_date["date"] = "2021-02-29T10:00:00+01:00"  # the base structure's finding
    no_status = mhd.document_reference()
    del no_status["status"]
    coded = mhd.document_reference()
    coded["type"]["coding"][0]["code"] = "no-such-code"  # the profile's binding and the Danish codes
    content, _ = refused_consent(mhd.examples.hco)
    return [mhd.bundle((mhd.document_reference(), json.dumps(broken).encode())),
            mhd.bundle((wrong_date, mhd.examples.hco)),
            mhd.bundle((no_status, mhd.examples.hco)),
            mhd.bundle((coded, _fresh(mhd, mhd.examples.hco)), (mhd.document_reference(), json.dumps(broken).encode())),
            mhd.bundle((mhd.document_reference(cpr=OTHER_CPR), about(mhd.examples.hco, CPR)), consistent=False),
            mhd.bundle((mhd.document_reference(), content)),
            mhd.bundle((mhd.document_reference(), b"\x00\x01 not json"))]


@pytest.mark.parametrize("settings", [{}, {"validation_profile": Strictness.WARNING,
                                           "dds_rules_codes": Strictness.WARNING,
                                           "dds_rules_document_patient": Strictness.WARNING}])
def test_every_answer_is_the_one_the_lane_alone_gives(mhd: Mhd, context: SandboxContext,
                                                      settings: dict[str, Any]) -> None:
    context.settings = context.settings.model_copy(update=settings)
    bundles = _judged_bundles(mhd)
    alone = [mhd.post(bundle) for bundle in bundles]
    process = validation_process_ready(context.start_validation_process())
    try:  # the same again, but for new ids (an entry taken with warnings is registered)
        served = [mhd.post(bundle) for bundle in _judged_bundles(mhd)]
    finally:
        process.close()
        context.validation_process = None
    if not settings:
        assert [r.status_code for r in alone] == [422] * len(bundles), [r.text[:300] for r in alone]
    else:
        assert 200 in [r.status_code for r in alone]  # warnings, in the transaction-response
    for lane, beside in zip(alone, served, strict=True):
        assert beside.status_code == lane.status_code
        assert _without_ids(beside.json()) == _without_ids(lane.json())


def test_a_setting_changed_while_the_process_runs_reaches_it(mhd: Mhd, context: SandboxContext,
                                                             beside: ValidationProcess) -> None:
    """The settings a job carries are pickled again only when one changed: a change made in place, the way
    ``context.settings.x = y`` makes it, is one."""
    coded = mhd.document_reference()
    coded["type"]["coding"][0]["code"] = "no-such-code"

    def provided() -> Any:
        document = mhd.document_reference()
        document["type"] = coded["type"]
        return mhd.post(mhd.bundle((document, _fresh(mhd, mhd.examples.hco))))

    assert provided().status_code == 422
    context.settings.validation_profile = Strictness.WARNING
    context.settings.dds_rules_codes = Strictness.WARNING
    warned = provided()
    assert warned.status_code == 200, warned.text
    context.settings.dds_rules_codes = Strictness.REJECT
    assert provided().status_code == 422


INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")  # the registry's, in an answer
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _without_ids(answer: dict[str, Any]) -> str:
    """An answer with the ids the client and the registry gave, and the registry's times, left out (each bundle is
    sent with new ids, a second later)."""
    return INSTANT.sub("…", UUID.sub("…", json.dumps(answer, sort_keys=True)))


def test_a_process_that_dies_changes_nothing_but_where_the_work_is_done(
        mhd: Mhd, beside: ValidationProcess, lane_validations: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from nsp_sandbox import validation_process

    pid = beside.pid
    assert pid is not None
    beside.abandon("the test stops it")
    deadline = time.monotonic() + 10
    while beside.ready:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    response = mhd.post(mhd.bundle((mhd.document_reference(), _fresh(mhd, mhd.examples.hco))))
    assert response.status_code == 200, response.text
    assert lane_validations == ["DocumentReference", "Bundle"]  # the lane did the work

    monkeypatch.setattr(validation_process, "RESTART_AFTER", 0.0)
    response = mhd.post(mhd.bundle((mhd.document_reference(), _fresh(mhd, mhd.examples.hco))))
    assert response.status_code == 200, response.text  # this one started it again, and was validated by the lane
    assert validation_process_ready(beside).pid != pid and beside.starts == 2
    del lane_validations[:]
    response = mhd.post(mhd.bundle((mhd.document_reference(), _fresh(mhd, mhd.examples.hco))))
    assert response.status_code == 200, response.text
    assert lane_validations == []


def test_the_viewer_finds_the_document_judged_where_the_process_judged_it(
        mhd: Mhd, context: SandboxContext, beside: ValidationProcess, lane_validations: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The process's findings of a document are kept in the sandbox's engine, by the document's bytes: the same
    bytes judged again later (as the viewer judges what it is notified of) are answered from them."""
    from nsp_sandbox import hco_versions

    reference = mhd.document_reference()
    content = about(_fresh(mhd, mhd.examples.hco), str(entry_cpr(reference)))  # as bundle() puts it
    response = mhd.post(mhd.bundle((reference, content)))
    assert response.status_code == 200, response.text
    monkeypatch.setattr(threading.current_thread(), "name", "cpu-lane_test")  # counted as the lane's
    found = hco_versions.judge_stored(context.validator, json.loads(content),
                                      hco_versions.version_of_entry(reference), content=content)
    assert found == []
    assert lane_validations == []


def test_packages_loaded_afresh_start_the_process_again(
        mhd: Mhd, context: SandboxContext, beside: ValidationProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """Packages installed while the sandbox runs are loaded afresh (``forget_packages``): the process loaded the
    ones there were, so it is started again, and answers again once it has loaded them."""
    pid = beside.pid
    real = beside.submit
    given: list[bool] = []

    def counted(job: str, *payload: bytes) -> Any:
        future = real(job, *payload)
        given.append(future is not None)
        return future

    monkeypatch.setattr(beside, "submit", counted)
    context.forget_packages()
    assert beside.starts == 2 and beside.pid != pid
    validation_process_ready(beside)
    response = mhd.post(mhd.bundle((mhd.document_reference(), _fresh(mhd, mhd.examples.hco))))
    assert response.status_code == 200, response.text
    assert given == [True]


def test_a_process_that_hangs_is_stopped_and_the_lane_answers(
        mhd: Mhd, beside: ValidationProcess, lane_validations: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal

    from services.dds import validation_ahead

    monkeypatch.setattr(validation_ahead, "WAIT_AT_MOST", 0.5)
    pid = beside.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # it takes the job, and never answers
    started = time.monotonic()
    response = mhd.post(mhd.bundle((mhd.document_reference(), _fresh(mhd, mhd.examples.hco))))
    assert response.status_code == 200, response.text
    assert time.monotonic() - started < 10
    assert lane_validations == ["DocumentReference", "Bundle"]
    deadline = time.monotonic() + 10
    while beside.ready:  # stopped: killed, its reader has seen it end
        assert time.monotonic() < deadline
        time.sleep(0.01)
