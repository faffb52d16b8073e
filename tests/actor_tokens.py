"""What the sandbox's own test clients carry on the EOJ's and the GP system's faces (``docs/hco.md``):
``ActorTokens`` is an ``httpx`` auth that adds the token of a persona allowed there — the EOJ's own
system on ``/eoj``, a GP of Skødstrup Lægepraksis on ``/lps`` — fetched from NSP's STS through the
same client and fetched again when the answer is 401 (a sandbox clock moved past its expiry).
A request that already has an ``Authorization`` header, and the open EHMI inboxes, are left alone.
``operator`` is the same sandbox as a caller on this machine sees it (the operator endpoints)."""

from __future__ import annotations

from collections.abc import Generator

import httpx2 as httpx
from fastapi.testclient import TestClient

EOJ_PERSONA = "system-eoj-aarhus"  # the sandbox EOJ's own system persona (NSP_SANDBOX_EOJ_PERSONA)
GP_PERSONA = "gp-skodstrup"  # a GP of Skødstrup Lægepraksis, a practice of the sandbox's GP system
FACES = {"eoj": EOJ_PERSONA, "lps": GP_PERSONA}
LOCAL = ("127.0.0.1", 50000)


class ActorTokens(httpx.Auth):
    def __init__(self, faces: dict[str, str] | None = None) -> None:
        self.faces = dict(FACES if faces is None else faces)
        self._tokens: dict[str, str] = {}

    def _actor(self, request: httpx.Request) -> str | None:
        parts = request.url.path.strip("/").split("/")
        if "authorization" in request.headers or not parts or parts[0] not in self.faces or parts[-1] == "ehmi":
            return None
        return parts[0]

    def _token_request(self, request: httpx.Request, actor: str) -> httpx.Request:
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        return httpx.Request("POST", f"{origin}/nsp/sts/token", json={"persona": self.faces[actor], "audience": actor})

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        actor = self._actor(request)
        if actor is None:
            yield request
            return
        for attempt in range(2):
            if actor not in self._tokens or attempt:
                answer = yield self._token_request(request, actor)
                answer.read()
                if answer.status_code != 200:  # no STS here: the call goes without a token
                    yield request
                    return
                self._tokens[actor] = str(answer.json()["access_token"])
            request.headers["Authorization"] = f"Bearer {self._tokens[actor]}"
            response = yield request
            if response.status_code != 401:
                return
            response.read()
            del request.headers["Authorization"]


def eoj_as(client: httpx.Client, persona: str) -> None:
    """Let ``client`` order at the EOJ as ``persona`` (after a test gave the EOJ that system persona)."""
    client.auth = ActorTokens({**FACES, "eoj": persona})


def operator(client: TestClient) -> TestClient:
    """The same in-process sandbox as a caller on this machine (loopback peer) sees it."""
    local = TestClient(client.app, base_url=str(client.base_url), client=LOCAL)
    local.auth = ActorTokens()
    return local
