"""Keystone tokens, project scoping and AK/SK signatures of the simulator, over loopback HTTP.

Servers run in ``RunningSimulator`` (own thread and loop) from sync fixtures; requests use
``urllib`` so no event loop is involved on the test side.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest

from crawler.simulator import FaultConfig, InventorySpec, RunningSimulator, SimulatorConfig, aksk
from tests.http import Response, call

SPEC = InventorySpec(images=300, projects=5, seed=13)
USERS = {"alice": "wonderland", "bob": "builder"}
AK, SK = "AKSIMULATOR0001", "secret-key-0001"
UNAUTHORIZED = {
    "error": {
        "code": 401,
        "message": "The request you have made requires authentication.",
        "title": "Unauthorized",
    }
}
ISO_US = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def password_auth(user: str, password: str, scope: dict[str, Any] | None) -> dict[str, Any]:
    identity = {
        "methods": ["password"],
        "password": {"user": {"name": user, "domain": {"name": "Default"}, "password": password}},
    }
    auth: dict[str, Any] = {"identity": identity}
    if scope is not None:
        auth["scope"] = scope
    return {"auth": auth}


def by_id(project: str) -> dict[str, Any]:
    return {"project": {"id": project}}


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    config = SimulatorConfig(
        inventory=SPEC, users=USERS, aksk={AK: SK}, region="eu-de", token="static-token"
    )
    with RunningSimulator(config) as running:
        yield running


def issue(sim: RunningSimulator, project: str, query: str = "") -> Response:
    return call(
        f"{sim.base_url}/v3/auth/tokens{query}",
        body=password_auth("alice", "wonderland", by_id(project)),
        method="POST",
    )


def token_for(sim: RunningSimulator, project: str) -> str:
    status, headers, _ = issue(sim, project)
    assert status == 201
    return str(headers["X-Subject-Token"])


def image_of(sim: RunningSimulator, project: str) -> str:
    """URL of an active image owned by ``project``."""
    inv = sim.inventory
    index = next(
        i
        for i in range(len(inv))
        if inv.owner(i) == project and inv.glance_record(i)["status"] == "active"
    )
    return f"{sim.base_url}/v2.1/{project}/images/{inv.image_id(index)}"


# --- Keystone -----------------------------------------------------------------------------


def test_issue_token_body_and_headers(sim: RunningSimulator) -> None:
    project = sim.inventory.projects[2]
    before = time.time()
    status, headers, body = issue(sim, project)
    assert status == 201
    assert len(headers["X-Subject-Token"]) > 100
    assert headers["Vary"] == "X-Auth-Token"
    assert headers["X-OpenStack-Request-Id"].startswith("req-")
    token = body["token"]
    assert token["methods"] == ["password"]
    assert token["project"] == {
        "domain": {"id": "default", "name": "Default"},
        "id": project,
        "name": "project-2",
    }
    assert token["user"]["name"] == "alice"
    assert token["user"]["domain"] == {"id": "default", "name": "Default"}
    assert {role["name"] for role in token["roles"]} >= {"member"}
    assert ISO_US.match(token["expires_at"])
    assert ISO_US.match(token["issued_at"])
    issued = datetime.fromisoformat(token["issued_at"].replace("Z", "+00:00")).timestamp()
    expires = datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00")).timestamp()
    assert before - 1 <= issued <= time.time() + 1
    assert expires - issued == pytest.approx(3600, abs=0.01)


def test_catalog(sim: RunningSimulator) -> None:
    project = sim.inventory.projects[0]
    catalog = {entry["type"]: entry for entry in issue(sim, project)[2]["token"]["catalog"]}
    assert {kind: entry["name"] for kind, entry in catalog.items()} == {
        "compute": "nova",
        "image": "glance",
        "identity": "keystone",
    }
    urls = {kind: entry["endpoints"][0]["url"] for kind, entry in catalog.items()}
    assert urls == {
        "compute": f"{sim.base_url}/v2.1/{project}",
        "image": sim.base_url,
        "identity": f"{sim.base_url}/v3",
    }
    for entry in catalog.values():
        (endpoint,) = entry["endpoints"]
        assert (endpoint["interface"], endpoint["region"], endpoint["region_id"]) == (
            "public",
            "eu-de",
            "eu-de",
        )
    assert "catalog" not in issue(sim, project, "?nocatalog")[2]["token"]


@pytest.mark.parametrize(
    "scope",
    [
        {"project": {"name": "project-3", "domain": {"id": "default"}}},
        {"project": {"name": "project-3", "domain": {"name": "Default"}}},
    ],
)
def test_scope_by_name(sim: RunningSimulator, scope: dict[str, Any]) -> None:
    status, _, body = call(
        f"{sim.base_url}/v3/auth/tokens",
        body=password_auth("bob", "builder", scope),
        method="POST",
    )
    assert status == 201
    assert body["token"]["project"]["id"] == sim.inventory.projects[3]


def test_user_by_id_and_domain_id(sim: RunningSimulator) -> None:
    body = password_auth("alice", "wonderland", by_id(sim.inventory.projects[0]))
    user = body["auth"]["identity"]["password"]["user"]
    user["domain"] = {"id": "default"}
    status, _, issued = call(f"{sim.base_url}/v3/auth/tokens", body=body, method="POST")
    assert status == 201
    user_id = issued["token"]["user"]["id"]
    body["auth"]["identity"]["password"]["user"] = {"id": user_id, "password": "wonderland"}
    assert call(f"{sim.base_url}/v3/auth/tokens", body=body, method="POST")[0] == 201


@pytest.mark.parametrize(
    ("user", "password", "scope"),
    [
        ("alice", "wrong", "p0"),
        ("mallory", "wonderland", "p0"),
        ("alice", "wonderland", {"project": {"id": "0" * 32}}),
        ("alice", "wonderland", {"project": {"name": "project-99", "domain": {"id": "default"}}}),
        ("alice", "wonderland", {"project": {"name": "project-1", "domain": {"name": "Other"}}}),
    ],
)
def test_bad_credentials_or_project_401(
    sim: RunningSimulator, user: str, password: str, scope: Any
) -> None:
    if scope == "p0":
        scope = by_id(sim.inventory.projects[0])
    status, headers, body = call(
        f"{sim.base_url}/v3/auth/tokens", body=password_auth(user, password, scope), method="POST"
    )
    assert (status, body) == (401, UNAUTHORIZED)
    assert "X-Subject-Token" not in headers


@pytest.mark.parametrize(
    "body",
    [
        password_auth("alice", "wonderland", None),  # unscoped
        password_auth("alice", "wonderland", {"domain": {"id": "default"}}),
        {"auth": {}},
        ["not", "an", "object"],
    ],
)
def test_malformed_or_unscoped_400(sim: RunningSimulator, body: Any) -> None:
    status, _, got = call(f"{sim.base_url}/v3/auth/tokens", body=body, method="POST")
    assert status == 400
    assert (got["error"]["code"], got["error"]["title"]) == (400, "Bad Request")


def test_other_method_401(sim: RunningSimulator) -> None:
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": "x"}}}}
    assert call(f"{sim.base_url}/v3/auth/tokens", body=body, method="POST")[::2] == (
        401,
        UNAUTHORIZED,
    )


# --- Keystone tokens on the Nova route ----------------------------------------------------


def mismatch(url_project: str, token_project: str) -> dict[str, Any]:
    return {
        "badRequest": {
            "code": 400,
            "message": f"Malformed request URL: URL's project_id '{url_project}' doesn't match "
            f"Context's project_id '{token_project}'",
        }
    }


def test_token_is_project_scoped(sim: RunningSimulator) -> None:
    a, b = sim.inventory.projects[:2]
    token = token_for(sim, a)
    assert call(image_of(sim, a), {"X-Auth-Token": token})[0] == 200
    assert call(image_of(sim, b), {"X-Auth-Token": token})[::2] == (400, mismatch(b, a))
    assert call(image_of(sim, b), {"X-Auth-Token": "static-token"})[0] == 200


@pytest.mark.parametrize("headers", [{}, {"X-Auth-Token": "gAAAAABnot-a-token"}])
def test_missing_or_unknown_token_401(sim: RunningSimulator, headers: dict[str, str]) -> None:
    status, got, body = call(image_of(sim, sim.inventory.projects[0]), headers)
    assert (status, body) == (401, UNAUTHORIZED)
    assert got["WWW-Authenticate"] == f'Keystone uri="{sim.base_url}/v3"'


def test_expire_tokens() -> None:
    config = SimulatorConfig(inventory=SPEC, users=USERS)
    with RunningSimulator(config) as fresh:
        project = fresh.inventory.projects[0]
        url = image_of(fresh, project)
        old = token_for(fresh, project)
        assert call(url, {"X-Auth-Token": old})[0] == 200
        assert fresh.expire_tokens() == 1
        assert call(url, {"X-Auth-Token": old})[::2] == (401, UNAUTHORIZED)
        new = token_for(fresh, project)
        assert call(url, {"X-Auth-Token": new})[0] == 200
        expired = call(f"{fresh.base_url}/_sim/expire-tokens", method="POST", body={})
        assert expired[::2] == (200, {"expired": 1})
        assert call(url, {"X-Auth-Token": new})[0] == 401
        stats = fresh.stats()
    assert stats["tokens_issued"] == 2
    assert stats["201"] == 2
    assert stats["401"] == 2


def test_token_ttl() -> None:
    config = SimulatorConfig(inventory=SPEC, users=USERS, faults=FaultConfig(token_ttl_s=0.3))
    with RunningSimulator(config) as fresh:
        project = fresh.inventory.projects[1]
        _, headers, body = issue(fresh, project)
        issued = datetime.fromisoformat(body["token"]["issued_at"].replace("Z", "+00:00"))
        expires = datetime.fromisoformat(body["token"]["expires_at"].replace("Z", "+00:00"))
        assert (expires - issued).total_seconds() == pytest.approx(0.3, abs=1e-3)
        url, token = image_of(fresh, project), headers["X-Subject-Token"]
        assert call(url, {"X-Auth-Token": token})[0] == 200
        time.sleep(0.35)
        assert call(url, {"X-Auth-Token": token})[0] == 401


def test_huawei_errors() -> None:
    config = SimulatorConfig(inventory=SPEC, users=USERS, huawei_errors=True)
    with RunningSimulator(config) as fresh:
        url = image_of(fresh, fresh.inventory.projects[0])
        status, headers, body = call(url, {"X-Auth-Token": "gAAAAABexpired"})
        assert (status, body["error_code"], body["error_msg"]) == (
            401,
            "APIGW.0307",
            "The token must be updated.",
        )
        assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
        assert "WWW-Authenticate" not in headers
        status, _, body = call(url)
        assert (status, body["error_code"]) == (401, "APIGW.0301")


# --- AK/SK --------------------------------------------------------------------------------

VECTOR_CANONICAL = (
    "GET\n/resources/\nsize=1\nhost:service.endpoint.myhuaweicloud.com\n"
    "x-sdk-date:20200608T023900Z\n\nhost;x-sdk-date\n"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)
VECTOR_SIGNATURE = "6d5bc610d3d4475346aae5cd7ed8d99585e60c0430a1d3d6e2f54e2bdd633701"


def test_sdk_test_vector() -> None:
    headers = {"Host": "service.endpoint.myhuaweicloud.com", "X-Sdk-Date": "20200608T023900Z"}
    canonical = aksk.canonical_request(
        "GET", "/resources", "size=1", headers, ["host", "x-sdk-date"], aksk.EMPTY_SHA256
    )
    assert canonical == VECTOR_CANONICAL
    to_sign = aksk.string_to_sign(canonical, "20200608T023900Z")
    assert to_sign == (
        "SDK-HMAC-SHA256\n20200608T023900Z\n"
        "de94dd1e1ccdb730b403ce35d7e14f7c7b04337f6def1c3a3a2ba936852b133f"
    )
    assert aksk.signature("my sk", to_sign) == VECTOR_SIGNATURE
    headers["Authorization"] = (
        f"SDK-HMAC-SHA256 Access=my ak, SignedHeaders=host;x-sdk-date, Signature={VECTOR_SIGNATURE}"
    )
    assert aksk.verify("GET", "/resources?size=1", headers, b"", {"my ak": "my sk"}) == "my ak"
    assert aksk.verify("GET", "/resources?size=2", headers, b"", {"my ak": "my sk"}) is None
    assert aksk.verify("GET", "/resources?size=1", headers, b"", {"my ak": "other"}) is None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", "/"),
        ("/v2.1/p/images", "/v2.1/p/images/"),
        ("/v2.1/p/images/", "/v2.1/p/images/"),
        ("/a%20b/c+d/%7Etilde", "/a%20b/c%2Bd/~tilde/"),
        ("/caf%C3%A9", "/caf%C3%A9/"),
    ],
)
def test_canonical_uri(path: str, expected: str) -> None:
    assert aksk.canonical_uri(path) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ""),
        ("size=1", "size=1"),
        ("b=2&a=1&a=0", "a=0&a=1&b=2"),
        ("q=a%20b&empty=&flag", "empty=&flag=&q=a%20b"),
        ("k=%7E%2F", "k=~%2F"),
    ],
)
def test_canonical_query(query: str, expected: str) -> None:
    assert aksk.canonical_query(query) == expected


@pytest.mark.parametrize(
    "value",
    [
        "SDK-HMAC-SHA256 Access=a, SignedHeaders=host",
        "AWS4-HMAC-SHA256 Access=a, SignedHeaders=host, Signature=00",
        "SDK-HMAC-SHA256",
    ],
)
def test_parse_authorization_rejects(value: str) -> None:
    assert aksk.parse_authorization(value) is None


def sign(
    url: str,
    *,
    ak: str = AK,
    sk: str = SK,
    extra: dict[str, str] | None = None,
    drop_date_from_signed: bool = False,
) -> dict[str, str]:
    """Headers of a GET of ``url`` signed as the Huawei SDK does (written apart from aksk)."""
    parts = urlsplit(url)
    headers = {
        "Host": parts.netloc,
        "X-Sdk-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        **(extra or {}),
    }
    values = {name.lower(): value.strip() for name, value in headers.items()}
    names = sorted(n for n in values if not (drop_date_from_signed and n == "x-sdk-date"))
    uri = "/".join(quote(segment, safe="~") for segment in parts.path.split("/")).rstrip("/") + "/"
    pairs = sorted(tuple(map(unquote, p.split("=", 1))) for p in parts.query.split("&") if p)
    canonical = "\n".join(
        [
            "GET",
            uri,
            "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in pairs),
            "".join(f"{name}:{values[name]}\n" for name in names),
            ";".join(names),
            hashlib.sha256(b"").hexdigest(),
        ]
    )
    to_sign = "\n".join(
        ["SDK-HMAC-SHA256", headers["X-Sdk-Date"], hashlib.sha256(canonical.encode()).hexdigest()]
    )
    sig = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders={';'.join(names)}, Signature={sig}"
    )
    return headers


def test_aksk_good_signatures(sim: RunningSimulator) -> None:
    project = sim.inventory.projects[0]
    url = image_of(sim, project)
    assert call(url, sign(url))[0] == 200
    assert call(url, sign(url, extra={"X-Project-Id": project}))[0] == 200
    with_query = url + "?b=2&a=x%20y"
    assert call(with_query, sign(with_query))[0] == 200


def test_aksk_project_mismatch(sim: RunningSimulator) -> None:
    a, b = sim.inventory.projects[:2]
    url = image_of(sim, a)
    assert call(url, sign(url, extra={"X-Project-Id": b}))[::2] == (400, mismatch(a, b))


@pytest.mark.parametrize("case", ["wrong_sk", "unknown_ak", "date_unsigned", "tampered", "unsent"])
def test_aksk_bad_signatures(sim: RunningSimulator, case: str) -> None:
    a, b = sim.inventory.projects[:2]
    url = image_of(sim, a)
    sent_to = url
    if case == "wrong_sk":
        headers = sign(url, sk="not-the-secret")
    elif case == "unknown_ak":
        headers = sign(url, ak="AKUNKNOWN")
    elif case == "date_unsigned":
        headers = sign(url, drop_date_from_signed=True)
    elif case == "tampered":  # signed for one URL, sent to another
        headers, sent_to = sign(url), image_of(sim, b)
    else:  # signs a header it does not send
        headers = sign(url, extra={"X-Extra": "1"})
        del headers["X-Extra"]
    status, _, body = call(sent_to, headers)
    assert status == 401
    assert (body["error_code"], body["error_msg"]) == (
        "APIGW.0301",
        "Incorrect IAM authentication information.",
    )
