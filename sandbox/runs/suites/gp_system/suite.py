"""``gp-system``: a vendor's GP system (lægepraksissystem) under test as the receiver of HomeCareObservation
messages (``hco.md`` §7.3). The target is the GP system's EHMI endpoint URL. The suite registers it for
a test GP, sends it MedCom's receive-test material, correction chains and every fault of §7.3 through
the sandbox's EOJ, and checks each acknowledgement that comes back (:mod:`sandbox.runs.suites.gp_system`)."""

from __future__ import annotations

from sandbox.runs.suite import Case, Suite
from sandbox.runs.suites.gp_system import target
from sandbox.runs.suites.gp_system.cases import (
    chain_case,
    corpus_case,
    duplicate_case,
    example_case,
    no_ack_of_an_ack,
)

OK_SCRIPT = "MedCom TestScript acknowledgement-send-ok-hospitalnotification (adapted to HCO)"
FATAL_SCRIPT = "MedCom TestScript acknowledgement-send-fatal-error-hospitalnotification (adapted to HCO)"
DUPLICATE_SCRIPT = "MedCom TestScript acknowledgement-send-ok-duplicate-hospitalnotification (adapted to HCO)"
RELIABLE = "MedCom governance 043 (reliable messaging), hco.md §4.2"
UNKNOWN_GLN_IN_SBDH = ("In the SBDH envelope a message for an unknown GLN is refused by the envelope layer and "
                       "gets no FHIR acknowledgement (hco.md §7.1, transport); run with envelope none for this case")
CHAIN = "401cbc36-db1e-4fe0-bf90-6df331dde179"  # the official new → modified → cancelled example chain


def _fault(name: str, title: str, msg: str, **kwargs: str) -> Case:
    return Case(name, f"{title}: answered fatal-error {msg}", corpus_case(name, **kwargs),
                f"hco.md §7.1, §7.3 (fault injection); {FATAL_SCRIPT}")


CASES: tuple[Case, ...] = (
    Case("receive-test-example-1", "Normal message, GP initials known (ReceiveTestExample1): answered ok",
         example_case("ReceiveTestExample1"), f"hco.md §6.1, §6.4 R1; MedCom receive test protocol Example 1; "
         f"{OK_SCRIPT}"),
    Case("receive-test-example-2", "Clinical and analysis comments, < and > comparators, initials unknown "
         "(ReceiveTestExample2): answered ok", example_case("ReceiveTestExample2"),
         f"hco.md §6.1, §6.4; MedCom receive test protocol Example 2; {OK_SCRIPT}"),
    Case("receive-test-example-3", "x-eCPR patient (ReceiveTestExample3): answered ok",
         example_case("ReceiveTestExample3"), f"hco.md §6.1, §6.4 (eCPR); MedCom receive test protocol Example 3; "
         f"{OK_SCRIPT}"),
    Case("receive-test-example-4", "Nine observations with analysis comments (ReceiveTestExample4): answered ok",
         example_case("ReceiveTestExample4"), f"hco.md §6.1, §6.4 (XML and JSON); MedCom receive test protocol "
         f"Example 4; {OK_SCRIPT}"),
    Case("comments", "Clinical comment and an analysis comment (test-script Bundle R1-3.3.1.1-Basic): answered ok",
         corpus_case("testscript:R1-3.3.1.1-Basic"), f"hco.md §6.3; medcom.fhir.dk.homecareobservationtestscripts "
         f"R1-3.3.1.1-Basic; {OK_SCRIPT}"),
    Case("ecpr", "Replacement CPR, no comments (test-script Bundle 3.4.1-TemporaryCPRAndNoComments): answered ok",
         corpus_case("testscript:3.4.1-TemporaryCPRAndNoComments"), f"hco.md §1.6, §6.3; "
         f"medcom.fhir.dk.homecareobservationtestscripts 3.4.1-TemporaryCPRAndNoComments; {OK_SCRIPT}"),
    Case("attachments", "An EKG attached as PNG (official example add5e7e2): answered ok",
         example_case("add5e7e2-0c0f-4a4a-bfff-f6f984fa7e3c"), f"hco.md §1.8, §6.1; {OK_SCRIPT}"),
    Case("modification", "A modified-message after its original (official chain 401cbc36 → 73996cdc): both "
         "answered ok", chain_case(CHAIN, "73996cdc-3192-4d15-bd16-c365ef0085e7", "the modification"),
         f"hco.md §3, §6.1; {OK_SCRIPT}"),
    Case("retraction", "A retract-message after its original (official chain 401cbc36 → 5f341feb): both answered "
         "ok", chain_case(CHAIN, "5f341feb-9a20-463a-96cc-a9ca8ace5567", "the retraction"),
         f"hco.md §3, §6.1; {OK_SCRIPT}"),
    Case("refused-consent", "Refused consent, security label R (official example faa0c104): answered ok",
         example_case("faa0c104-0ebf-49cb-bad1-9e0f59436e18"), f"hco.md §1.4, §5, §6.1; {OK_SCRIPT}"),
    *(Case(f"receive-test-extra-{n}", f"MedCom receive-test extra {n}: answered ok",
           corpus_case(f"protocol:ReceiveTestExampleExtra{n}"),
           f"hco.md §6.2 (ReceiveTestExampleExtra{n}); {OK_SCRIPT}")
      for n in range(1, 5)),
    Case("receive-test-example-5", "The invalid receive-test example 5: answered fatal-error MSG_BAD_FORMAT",
         corpus_case("protocol:ReceiveTestExample5"), f"hco.md §6.2 (ReceiveTestExample5); {FATAL_SCRIPT}"),
    _fault("wrong-event-code", "Wrong event code", "MSG_UNKNOWN_TYPE"),
    _fault("missing-cpr", "A patient without CPR or x-eCPR", "MSG_RESOURCE_REQUIRED"),
    _fault("unknown-npu-code", "An analysis coded outside the national repertoire", "MSG_CodeSystem_VALUE_UNKNOWN"),
    _fault("missing-value", "A result without a value", "MSG_Datatype_Wrong"),
    _fault("role-without-code", "A signing PractitionerRole without code", "MSG_BAD_FORMAT"),
    _fault("result-over-12-characters", "A result of 13 characters", "MSG_Element_To_Long"),
    _fault("cc-destination", "A carbon-copy destination", "MSG_BAD_FORMAT"),
    _fault("unknown-receiver", "A receiver SOR/GLN that is no practice of the target",
           "MSG_Receiver_Identifier_UNKNOWN", skip_with_sbdh=UNKNOWN_GLN_IN_SBDH),
    Case("reused-bundle-id", "A new message under an earlier message's Bundle.id: the first answered ok, the "
         "second fatal-error MSG_DUPLICATE_ID", corpus_case("reused-bundle-id"), f"{RELIABLE}; {FATAL_SCRIPT}"),
    Case("exact-duplicate", "The same message twice, identical (same Bundle.id): the same answer twice, new "
         "envelopes", duplicate_case("duplicate", "an exact duplicate of ReceiveTestExample1"),
         f"{RELIABLE}; {DUPLICATE_SCRIPT}"),
    Case("same-header-new-bundle", "A resend: the same MessageHeader.id under a new Bundle.id: the same answer "
         "twice, new envelopes", duplicate_case("resend", "a resend of ReceiveTestExample1"),
         f"{RELIABLE}; {DUPLICATE_SCRIPT}"),
    _fault("correction-of-unknown-original", "A modification whose original never arrives", "MSG_NO_EXIST"),
    Case("no-ack-of-an-acknowledgement", "An acknowledgement sent to the target is never acknowledged",
         no_ack_of_an_ack, f"{RELIABLE}; hco.md §4.5"),
)

SUITE = Suite(
    name="gp-system",
    title="GP system: receiving HomeCareObservation messages and acknowledging them",
    target_kind="gp-system",
    description="The target is the GP system's EHMI endpoint URL (where HomeCareObservation messages are POSTed). "
                "The suite registers it in the sandbox's endpoint register for a test GP (option 'receiver'; "
                "default Agerskov lægepraksis, the GP of MedCom's receive-test examples), then the sandbox's EOJ "
                "sends it MedCom's receive-test examples, comments, eCPR, attachments, a modification, a "
                "retraction, refused consent and every fault of hco.md §7.3, duplicates and an acknowledgement. "
                "Each message must get exactly one MedCom Acknowledgement per transmission, back at the "
                "message's source.endpoint (the EOJ's EHMI inbox), within the deadline, answering its "
                "MessageHeader.id, with the expected response.code and MSG_* code, valid against the "
                "Acknowledgement profile and MedCom's acknowledgement TestScript asserts; duplicates get the "
                "same answer under a new envelope; an acknowledgement gets none. The participant does nothing "
                "but keep the GP system running.",
    cases=CASES,
    options=target.OPTIONS,
    setup=target.setup,
)
