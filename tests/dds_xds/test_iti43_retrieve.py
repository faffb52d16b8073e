"""ITI-43 Retrieve Document Set through HTTP (DGWS + HSUID, MTOM answer): documents provided through
the MHD face come back byte-exact; what a repository answers for unknown documents and
repositories (ITI TF-2 §3.43.4.2.3)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from read_support import GRETHE, as_gp, metadata, provide, provide_years, unique_id
from sts_client import auth
from xds_support import REPOSITORY, documents, payload, registry_errors, retrieve, status_word

# A BOM, CRLF line ends, non-ASCII text and trailing white space: every byte must survive both doors.
XML_DOCUMENT = (b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>\r\n'
                b'<pr\xc3\xb8vesvar>\r\n  \xc3\xa6\xc3\xb8\xc3\xa5\t</pr\xc3\xb8vesvar>\r\n  ')


def test_a_document_provided_by_iti65_comes_back_byte_exact(client: TestClient) -> None:
    meta, _ = metadata(7)
    [entry_id] = provide(client, (meta, XML_DOCUMENT))
    got = documents(as_gp(client, retrieve(unique_id(GRETHE, 7)), path=REPOSITORY))
    assert got == {unique_id(GRETHE, 7): XML_DOCUMENT}
    through_mhd = client.get(f"/dds/documents/{entry_id}", headers=auth(client, "gp-skodstrup"))
    assert through_mhd.status_code == 200 and through_mhd.content == XML_DOCUMENT


def test_several_documents_and_a_partial_success(client: TestClient) -> None:
    provide_years(client)
    response = as_gp(client, retrieve(unique_id(GRETHE, 1), unique_id(GRETHE, 2)), path=REPOSITORY)
    assert status_word(payload(response)) == "Success"
    assert sorted(documents(response)) == [unique_id(GRETHE, 1), unique_id(GRETHE, 2)]
    partial = as_gp(client, retrieve(unique_id(GRETHE, 1), "1.2.208.99^nothing"), path=REPOSITORY)
    answer = payload(partial)
    assert status_word(answer) == "PartialSuccess"
    assert list(documents(partial)) == [unique_id(GRETHE, 1)]
    assert [code for code, _, _ in registry_errors(answer)] == ["XDSMissingDocument"]


def test_an_unknown_document_is_missing(client: TestClient) -> None:
    answer = payload(as_gp(client, retrieve("1.2.208.99^nothing"), path=REPOSITORY))
    assert status_word(answer) == "Failure"
    assert registry_errors(answer) == [("XDSMissingDocument", "Error",
                                        "Document 1.2.208.99^nothing is not in this repository")]


def test_another_repository_is_unknown_here(client: TestClient) -> None:
    provide_years(client)
    response = as_gp(client, retrieve(unique_id(GRETHE, 1), repository="1.2.208.176.43210.8.20.11"),
                     path=REPOSITORY)
    answer = payload(response)
    assert status_word(answer) == "Failure" and documents(response) == {}
    [(code, severity, context)] = registry_errors(answer)
    assert (code, severity) == ("XDSUnknownRepositoryId", "Error") and "1.2.208.176.43210.8.20.11" in context


def test_a_deprecated_document_is_still_retrieved(client: TestClient) -> None:
    [old] = provide(client, metadata(1))
    provide(client, metadata(2), replaces={unique_id(GRETHE, 2): old})
    got = documents(as_gp(client, retrieve(unique_id(GRETHE, 1)), path=REPOSITORY))
    assert got == {unique_id(GRETHE, 1): f'<prøvesvar nr="1">{GRETHE}</prøvesvar>'.encode()}


def test_a_malformed_request_fails_with_a_repository_error(client: TestClient) -> None:
    from lxml import etree

    empty = etree.Element("{urn:ihe:iti:xds-b:2007}RetrieveDocumentSetRequest")
    answer = payload(as_gp(client, empty, path=REPOSITORY))
    assert status_word(answer) == "Failure"
    assert [code for code, _, _ in registry_errors(answer)] == ["XDSRepositoryError"]
