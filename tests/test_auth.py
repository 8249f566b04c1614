"""Authentication: the AK/SK signer, Keystone per-project tokens, credential loading.

Keystone is a tiny ``aiohttp.web`` stand-in written here (only ``POST /v3/auth/tokens`` of
API.md 5.1 plus one protected route), served on 127.0.0.1 by pytest-asyncio fixtures; they
hold no anyio task group, so every task group stays inside its test (STYLE.md, 12). The
simulator is not used: its Keystone support is being written separately.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import anyio
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from crawler.auth import (
    AK_ENV,
    SK_ENV,
    TOKEN_ENV,
    AkSkAuth,
    AuthError,
    AuthProvider,
    KeystoneCredentials,
    KeystonePasswordAuth,
    NoAuth,
    StaticToken,
    auth_from_env,
    load_keystone_credentials,
)
from crawler.auth.aksk import canonical_request, host_header, sign, string_to_sign
from crawler.auth.keystone import normalize_auth_url
from crawler.errors import ConfigError, CrawlerError

PASSWORD = "pw-Qz7!secret-KEYSTONE"
AK = "AK-ZX81-ACCESS-SECRET"
SK = "SK-9vT2-SIGNING-SECRET"
STATIC = "static-TOKEN-4b1d-secret"
USER = "crawler-bot"
PROJECTS = [f"{n:032x}" for n in (0xA1, 0xB2, 0xC3)]
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


# --- AK/SK signer -------------------------------------------------------------------------

VECTOR_URL = URL("https://service.endpoint.myhuaweicloud.com/resources?size=1")
VECTOR_HEADERS = {"X-Sdk-Date": "20200608T023900Z", "Host": "service.endpoint.myhuaweicloud.com"}


def test_sdk_test_vector_reproduces_exactly() -> None:
    canonical, signed = canonical_request("GET", VECTOR_URL, VECTOR_HEADERS, b"")
    assert canonical == (
        "GET\n/resources/\nsize=1\nhost:service.endpoint.myhuaweicloud.com\n"
        f"x-sdk-date:20200608T023900Z\n\nhost;x-sdk-date\n{EMPTY_SHA256}"
    )
    assert signed == "host;x-sdk-date"
    assert string_to_sign(canonical, "20200608T023900Z") == (
        "SDK-HMAC-SHA256\n20200608T023900Z\n"
        "de94dd1e1ccdb730b403ce35d7e14f7c7b04337f6def1c3a3a2ba936852b133f"
    )
    assert sign("GET", VECTOR_URL, VECTOR_HEADERS, b"", ak="my ak", sk="my sk") == (
        "SDK-HMAC-SHA256 Access=my ak, SignedHeaders=host;x-sdk-date, "
        "Signature=6d5bc610d3d4475346aae5cd7ed8d99585e60c0430a1d3d6e2f54e2bdd633701"
    )


def _lines(url: str, headers: Mapping[str, str] | None = None, body: bytes = b"") -> list[str]:
    return canonical_request("get", URL(url), headers or {"Host": "h"}, body)[0].split("\n")


@pytest.mark.parametrize(
    ("url", "uri", "query"),
    [
        ("https://h/v2.1/p/images", "/v2.1/p/images/", ""),
        ("https://h/v2.1/p/images/", "/v2.1/p/images/", ""),
        ("https://h", "/", ""),
        ("https://h/a%20b/c~d_e.f-g", "/a%20b/c~d_e.f-g/", ""),
        ("https://h/%C3%A9t%C3%A9/x:y", "/%C3%A9t%C3%A9/x%3Ay/", ""),
        ("https://h/r?b=2&a=1", "/r/", "a=1&b=2"),
        ("https://h/r?k=z&k=a&j=", "/r/", "j=&k=a&k=z"),
        ("https://h/r?name=a%20b%2Fc&x=~._-", "/r/", "name=a%20b%2Fc&x=~._-"),
        ("https://h/a%2Fb?q=a+b&flag", "/a/b/", "flag=&q=a%2Bb"),  # SDK splits after decoding
    ],
)
def test_uri_and_query_canonicalisation(url: str, uri: str, query: str) -> None:
    method, got_uri, got_query = _lines(url)[:3]
    assert (method, got_uri, got_query) == ("GET", uri, query)


def test_headers_are_lowercased_sorted_trimmed_and_all_signed() -> None:
    headers = {"X-Sdk-Date": " 20200608T023900Z ", "Host": "h", "X-Project-Id": "\tp1  "}
    lines = _lines("https://h/r", headers)
    assert lines[3:7] == ["host:h", "x-project-id:p1", "x-sdk-date:20200608T023900Z", ""]
    assert lines[7] == "host;x-project-id;x-sdk-date"


def test_payload_hash_and_unsigned_payload_header() -> None:
    assert _lines("https://h/r", body=b'{"a": 1}')[-1] == hashlib.sha256(b'{"a": 1}').hexdigest()
    unsigned = {"Host": "h", "X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"}
    assert _lines("https://h/r", unsigned, b"x")[-1] == "UNSIGNED-PAYLOAD"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://ecs.eu-de.otc.t-systems.com/v2.1", "ecs.eu-de.otc.t-systems.com"),
        ("https://h:443/x", "h"),
        ("http://h:80/x", "h"),
        ("https://h:8443/x", "h:8443"),
        ("http://h:443/x", "h:443"),
        ("http://[::1]:8080/x", "[::1]:8080"),
    ],
)
def test_host_header_omits_default_ports(url: str, host: str) -> None:
    assert host_header(URL(url)) == host


def test_sign_requires_date_and_host() -> None:
    with pytest.raises(ValueError, match="X-Sdk-Date and Host"):
        sign("GET", VECTOR_URL, {"Host": "h"}, b"", ak=AK, sk=SK)


@given(st.lists(st.text(min_size=1, max_size=8), max_size=4))
def test_canonical_uri_is_always_escaped_and_ends_with_slash(segments: list[str]) -> None:
    url = URL("https://h/").with_path("/" + "/".join(segments))
    uri = _lines(str(url))[1]
    assert uri.endswith("/")
    assert set(uri) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/%")


async def test_aksk_provider_signs_each_request() -> None:
    auth = AkSkAuth(AK, SK, clock=lambda: 1591583940.0)  # 2020-06-08T02:39:00Z
    url = URL("https://ecs.eu-de.otc.t-systems.com:443/v2.1/p1/images/i1")
    async with aiohttp.ClientSession() as session:
        headers = await auth.headers(session, "GET", url, "p1")
    assert headers["X-Sdk-Date"] == "20200608T023900Z"
    assert headers["Host"] == "ecs.eu-de.otc.t-systems.com"
    assert headers["X-Project-Id"] == "p1"
    unsigned = {k: v for k, v in headers.items() if k != "Authorization"}
    assert headers["Authorization"] == sign("GET", url, unsigned, b"", ak=AK, sk=SK)
    assert "SignedHeaders=host;x-project-id;x-sdk-date," in headers["Authorization"]
    assert auth.stats.signed == 1
    assert await auth.unauthorized("p1", headers) is False


# --- Keystone stand-in --------------------------------------------------------------------


@dataclass
class FakeClock:
    now: float = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _unauthorized(message: str) -> web.Response:
    error = {"code": 401, "title": "Unauthorized", "message": message}
    return web.json_response({"error": error}, status=401)


def _check_user(user: object) -> str | None:
    """Why the password.user object is malformed, or None."""
    if not isinstance(user, dict) or not isinstance(user.get("password"), str):
        return "user.password missing"
    if "id" in user:
        return None
    domain = user.get("domain")
    if not isinstance(user.get("name"), str) or not isinstance(domain, dict) or not domain:
        return "user needs id, or name plus domain"
    return None


@dataclass
class Keystone:
    """``POST /v3/auth/tokens`` and a resource that accepts only live tokens."""

    clock: FakeClock
    lifetime: float = 3600.0
    echo_password: bool = False
    unavailable: bool = False
    omit_subject_token: bool = False
    posts: Counter[str] = field(default_factory=Counter)
    valid: dict[str, set[str]] = field(default_factory=dict)
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/auth/tokens", self.tokens)
        app.router.add_get("/resource/{project}", self.resource)
        return app

    async def tokens(self, request: web.Request) -> web.Response:
        body = await request.json()
        auth = body["auth"]
        assert auth["identity"]["methods"] == ["password"]
        user = auth["identity"]["password"]["user"]
        project = auth["scope"]["project"]["id"]
        assert _check_user(user) is None, _check_user(user)
        self.posts[project] += 1
        await asyncio.sleep(0.01)  # long enough for concurrent callers to pile up
        if self.unavailable:
            return web.json_response({"error": {"code": 503, "message": "Down."}}, status=503)
        if user["password"] != PASSWORD:
            echoed = f" (password {user['password']})" if self.echo_password else ""
            return _unauthorized("The request you have made requires authentication." + echoed)
        token = f"tok-{project[-2:]}-{self.posts[project]}-secret"
        self.valid.setdefault(project, set()).add(token)
        now = self.clock()
        catalog = [{"type": "compute", "name": "nova", "endpoints": [{"url": "http://n"}]}]
        body = {
            "token": {
                "methods": ["password"],
                "issued_at": _iso(now),
                "expires_at": _iso(now + self.lifetime),
                "project": {"id": project},
                "catalog": catalog,
            }
        }
        headers = {} if self.omit_subject_token else {"X-Subject-Token": token}
        return web.json_response(body, status=201, headers=headers)

    async def resource(self, request: web.Request) -> web.Response:
        project = request.match_info["project"]
        if request.headers.get("X-Auth-Token") not in self.valid.get(project, set()):
            return _unauthorized("The request you have made requires authentication.")
        return web.json_response({"ok": True})


@pytest.fixture
async def keystone() -> AsyncIterator[Keystone]:
    stand_in = Keystone(FakeClock())
    async with TestServer(stand_in.app(), host="127.0.0.1") as server:
        stand_in.url = str(server.make_url("/v3/"))
        yield stand_in


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def make_auth(
    keystone: Keystone, *, password: str = PASSWORD, by_id: bool = False
) -> KeystonePasswordAuth:
    credentials = KeystoneCredentials(
        auth_url=keystone.url,
        username=None if by_id else USER,
        user_id="u-1" if by_id else None,
        password=password,
        user_domain_name=None if by_id else "Default",
    )
    return KeystonePasswordAuth(credentials, refresh_margin_s=300.0, clock=keystone.clock)


def resource_url(keystone: Keystone, project: str) -> URL:
    return URL(keystone.url).with_path(f"/resource/{project}")


async def concurrently(
    auth: KeystonePasswordAuth, session: aiohttp.ClientSession, projects: list[str]
) -> list[tuple[str, str]]:
    """(project, token) for ``headers()`` called once per entry, all at once."""
    got: list[tuple[str, str]] = []

    async def one(project: str) -> None:
        headers = await auth.headers(session, "GET", URL("http://nova/"), project)
        got.append((project, headers["X-Auth-Token"]))

    async with anyio.create_task_group() as tg:
        for project in projects:
            tg.start_soon(one, project)
    return got


@pytest.mark.parametrize("by_id", [False, True], ids=["user-by-name", "user-by-id"])
async def test_one_token_request_per_project_for_many_concurrent_callers(
    keystone: Keystone, session: aiohttp.ClientSession, by_id: bool
) -> None:
    auth = make_auth(keystone, by_id=by_id)
    got = await concurrently(auth, session, [PROJECTS[n % 3] for n in range(50)])
    assert keystone.posts == dict.fromkeys(PROJECTS, 1)
    assert len(got) == 50
    for project, token in got:
        assert keystone.valid[project] == {token}
    assert auth.stats.as_dict() == {"tokens_issued": 3, "refreshes": 0, "reauths": 0, "signed": 0}
    assert auth.describe()["projects_authenticated"] == 3
    assert auth.catalog(PROJECTS[0]) == [
        {"type": "compute", "name": "nova", "endpoints": [{"url": "http://n"}]}
    ]
    assert auth.catalog("f" * 32) is None


async def test_token_is_refreshed_shortly_before_it_expires(
    keystone: Keystone, session: aiohttp.ClientSession
) -> None:
    auth = make_auth(keystone)
    first = await concurrently(auth, session, [PROJECTS[0]])
    keystone.clock.now += 3600 - 301  # just outside the 300 s margin: keep the token
    assert await concurrently(auth, session, [PROJECTS[0]] * 5) == first * 5
    keystone.clock.now += 2  # inside the margin: one caller refreshes, nobody waits twice
    second = await concurrently(auth, session, [PROJECTS[0]] * 5)
    assert keystone.posts[PROJECTS[0]] == 2
    assert {token for _, token in second} <= {first[0][1], f"tok-{PROJECTS[0][-2:]}-2-secret"}
    assert (auth.stats.tokens_issued, auth.stats.refreshes) == (2, 1)


async def test_failed_refresh_keeps_the_valid_token_and_retries_later(
    keystone: Keystone, session: aiohttp.ClientSession
) -> None:
    auth = make_auth(keystone)
    first = await concurrently(auth, session, [PROJECTS[0]])
    keystone.unavailable = True
    keystone.clock.now += 3600 - 100  # inside the margin, 100 s before expiry
    assert await concurrently(auth, session, [PROJECTS[0]] * 5) == first * 5
    assert keystone.posts[PROJECTS[0]] == 2  # one failed refresh, not one per caller
    keystone.clock.now += 31  # past the retry pause; Keystone is back
    keystone.unavailable = False
    second = await concurrently(auth, session, [PROJECTS[0]])
    assert second != first
    assert (keystone.posts[PROJECTS[0]], auth.stats.refreshes) == (3, 1)
    keystone.unavailable = True
    keystone.clock.now += 3600  # the new token expired too: now the failure surfaces
    with pytest.raises(AuthError, match=r"HTTP 503: Down\.$"):
        await auth.headers(session, "GET", URL("http://nova/"), PROJECTS[0])


async def test_concurrent_401s_for_the_current_token_cause_one_reauth(
    keystone: Keystone, session: aiohttp.ClientSession
) -> None:
    auth = make_auth(keystone)
    project = PROJECTS[1]
    used = await auth.headers(session, "GET", resource_url(keystone, project), project)
    keystone.valid[project].clear()  # revoked on the server
    answers: list[bool] = []
    retried: list[str] = []

    async def after_401() -> None:
        answers.append(await auth.unauthorized(project, used))
        fresh = await auth.headers(session, "GET", resource_url(keystone, project), project)
        retried.append(fresh["X-Auth-Token"])

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(after_401)
    assert answers == [True] * 20
    assert keystone.posts[project] == 2
    assert len(set(retried)) == 1
    assert retried[0] != used["X-Auth-Token"]
    assert (auth.stats.reauths, auth.stats.tokens_issued) == (1, 2)
    async with session.get(
        resource_url(keystone, project), headers={"X-Auth-Token": retried[0]}
    ) as response:
        assert response.status == 200


async def test_401_with_a_stale_token_fetches_nothing(
    keystone: Keystone, session: aiohttp.ClientSession
) -> None:
    auth = make_auth(keystone)
    assert await auth.unauthorized(PROJECTS[0], {"X-Auth-Token": "never-seen"}) is True
    await concurrently(auth, session, [PROJECTS[0]])
    assert await auth.unauthorized(PROJECTS[0], {"X-Auth-Token": "old-one"}) is True
    await concurrently(auth, session, [PROJECTS[0]])
    assert keystone.posts[PROJECTS[0]] == 1
    assert auth.stats.reauths == 0


@pytest.mark.parametrize("echo", [False, True], ids=["keystone-text", "password-echoed"])
async def test_wrong_password_is_an_auth_error_without_secrets(
    keystone: Keystone, session: aiohttp.ClientSession, echo: bool
) -> None:
    keystone.echo_password = echo
    wrong = PASSWORD + "-wrong"
    auth = make_auth(keystone, password=wrong)
    with pytest.raises(AuthError) as caught:
        await auth.headers(session, "GET", URL("http://nova/"), PROJECTS[0])
    message = str(caught.value)
    assert "HTTP 401: The request you have made requires authentication." in message
    assert PROJECTS[0] in message
    for secret in (wrong, PASSWORD, "tok-"):
        assert secret not in message
    assert isinstance(caught.value, CrawlerError)
    assert caught.value.exit_code == 2


async def test_concurrent_callers_share_one_failed_request(
    keystone: Keystone, session: aiohttp.ClientSession
) -> None:
    auth = make_auth(keystone, password="nope")
    failures: list[AuthError] = []

    async def one() -> None:
        try:
            await auth.headers(session, "GET", URL("http://nova/"), PROJECTS[2])
        except AuthError as exc:
            failures.append(exc)

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(one)
    assert len(failures) == 10
    assert keystone.posts[PROJECTS[2]] == 1


async def test_unusable_answer_and_network_failure_are_auth_errors(
    keystone: Keystone, session: aiohttp.ClientSession
) -> None:
    keystone.omit_subject_token = True
    with pytest.raises(AuthError, match="X-Subject-Token"):
        await make_auth(keystone).headers(session, "GET", URL("http://nova/"), PROJECTS[0])
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    keystone.url = f"http://127.0.0.1:{port}/v3"
    with pytest.raises(AuthError, match="ClientConnectorError") as caught:
        await make_auth(keystone).headers(session, "GET", URL("http://nova/"), PROJECTS[0])
    assert PASSWORD not in str(caught.value)


# --- credential loading -------------------------------------------------------------------

CLOUDS = """
clouds:
  otc:
    auth:
      auth_url: https://iam.eu-de.otc.t-systems.com/v3/
      username: {user}
      password: {password}
      user_domain_name: OTC-EU-DE-0001
      project_name: ignored
    region_name: eu-de
    interface: public
  other:
    auth: {{auth_url: "http://x"}}
"""


def write_clouds(directory: Path, *, password: str = PASSWORD, user: str = USER) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "clouds.yaml"
    path.write_text(CLOUDS.format(password=password, user=user), encoding="utf-8")
    return path


def test_clouds_yaml_from_os_client_config_file(tmp_path: Path) -> None:
    path = write_clouds(tmp_path)
    env = {"OS_CLOUD": "otc", "OS_CLIENT_CONFIG_FILE": str(path)}
    creds = load_keystone_credentials(env, search_paths=[])
    assert creds == KeystoneCredentials(
        auth_url="https://iam.eu-de.otc.t-systems.com",
        username=USER,
        user_id=None,
        password=PASSWORD,
        user_domain_name="OTC-EU-DE-0001",
        region_name="eu-de",
    )


def test_first_existing_search_path_wins_and_env_overrides(tmp_path: Path) -> None:
    first = write_clouds(tmp_path / "a", user="from-a")
    write_clouds(tmp_path / "b", user="from-b")
    env = {"OS_CLOUD": "otc", "OS_PASSWORD": "pw-env-secret", "OS_REGION_NAME": " eu-nl "}
    creds = load_keystone_credentials(env, search_paths=[tmp_path / "none.yaml", first])
    assert creds is not None
    assert (creds.username, creds.password, creds.region_name) == (
        "from-a",
        "pw-env-secret",
        "eu-nl",
    )


def test_standard_search_paths_start_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write_clouds(tmp_path / "home" / ".config" / "openstack", user="from-home")
    assert load_keystone_credentials({"OS_CLOUD": "otc"}) is not None
    write_clouds(tmp_path, user="from-cwd")
    creds = load_keystone_credentials({"OS_CLOUD": "otc"})
    assert creds is not None
    assert creds.username == "from-cwd"


def test_secure_yaml_next_to_clouds_yaml_is_merged(tmp_path: Path) -> None:
    path = write_clouds(tmp_path, password="placeholder")
    (tmp_path / "secure.yaml").write_text(
        f"clouds:\n  otc:\n    auth:\n      password: {PASSWORD}\n", encoding="utf-8"
    )
    creds = load_keystone_credentials({"OS_CLOUD": "otc"}, search_paths=[path])
    assert creds is not None
    assert (creds.username, creds.password) == (USER, PASSWORD)


@pytest.mark.parametrize(
    ("env", "search", "expected"),
    [
        (
            {"OS_CLOUD": "nope"},
            True,
            r"clouds\.yaml: cloud 'nope' not found \(clouds: otc, other\)",
        ),
        ({"OS_CLOUD": "otc"}, False, r"OS_CLOUD=otc: no clouds\.yaml found \(looked for .*missing"),
        ({"OS_CLOUD": "other"}, True, r"cloud 'other': .* set OS_USERNAME or OS_USER_ID"),
    ],
)
def test_clouds_yaml_errors_name_file_cloud_and_variable(
    tmp_path: Path, env: dict[str, str], search: bool, expected: str
) -> None:
    paths = [write_clouds(tmp_path)] if search else [tmp_path / "missing.yaml"]
    with pytest.raises(ConfigError, match=expected):
        load_keystone_credentials(env, search_paths=paths)


def test_clouds_yaml_secrets_stay_out_of_errors(tmp_path: Path) -> None:
    broken = tmp_path / "clouds.yaml"
    broken.write_text(f"clouds:\n  otc: {{auth: [{PASSWORD}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML") as caught:
        load_keystone_credentials({"OS_CLOUD": "otc"}, search_paths=[broken])
    assert PASSWORD not in str(caught.value)
    path = write_clouds(tmp_path / "x", password="''")
    with pytest.raises(ConfigError, match=r"set OS_PASSWORD \(or auth\.password\)"):
        load_keystone_credentials({"OS_CLOUD": "otc"}, search_paths=[path])


FULL_ENV = {
    "OS_AUTH_URL": "http://keystone:5000/v3",
    "OS_USERNAME": USER,
    "OS_PASSWORD": PASSWORD,
    "OS_USER_DOMAIN_NAME": "Default",
    "OS_PROJECT_DOMAIN_ID": "default",
    "OS_INTERFACE": "internal",
}


def test_environment_alone_gives_credentials() -> None:
    creds = load_keystone_credentials(FULL_ENV)
    assert creds is not None
    assert (creds.auth_url, creds.username, creds.interface) == (
        "http://keystone:5000",
        USER,
        "internal",
    )
    assert creds.project_domain_id == "default"
    assert load_keystone_credentials({"OS_USERNAME": USER, "OS_AUTH_URL": "  "}) is None


@pytest.mark.parametrize(
    ("drop", "expected"),
    [
        ("OS_PASSWORD", "OS_PASSWORD"),
        ("OS_USERNAME", "OS_USERNAME or OS_USER_ID"),
        ("OS_USER_DOMAIN_NAME", "OS_USER_DOMAIN_NAME or OS_USER_DOMAIN_ID"),
    ],
)
def test_incomplete_environment_names_the_missing_variable(drop: str, expected: str) -> None:
    env = {**FULL_ENV, drop: ""}
    with pytest.raises(ConfigError, match=f"set {expected}$") as caught:
        load_keystone_credentials(env)
    assert PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "root"),
    [
        ("https://iam.eu-de.otc.t-systems.com/v3", "https://iam.eu-de.otc.t-systems.com"),
        ("https://iam.example/v3/", "https://iam.example"),
        (" http://127.0.0.1:5000/identity/ ", "http://127.0.0.1:5000/identity"),
    ],
)
def test_auth_url_is_normalised(value: str, root: str) -> None:
    assert normalize_auth_url(value) == root


def test_auth_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="http"):
        normalize_auth_url("keystone:5000")


@pytest.mark.parametrize(
    ("env", "kind"),
    [
        ({AK_ENV: AK, SK_ENV: SK, **FULL_ENV, TOKEN_ENV: STATIC}, AkSkAuth),
        ({AK_ENV: " ", SK_ENV: "", **FULL_ENV, TOKEN_ENV: STATIC}, KeystonePasswordAuth),
        ({TOKEN_ENV: STATIC, "OS_USERNAME": USER}, StaticToken),
        ({TOKEN_ENV: "  "}, NoAuth),
        ({}, NoAuth),
    ],
)
def test_auth_from_env_precedence(env: dict[str, str], kind: type) -> None:
    assert type(auth_from_env(env)) is kind


@pytest.mark.parametrize(("present", "missing"), [(AK_ENV, SK_ENV), (SK_ENV, AK_ENV)])
def test_half_an_aksk_pair_is_a_config_error(present: str, missing: str) -> None:
    with pytest.raises(ConfigError, match=f"{missing} is not set") as caught:
        auth_from_env({present: AK, TOKEN_ENV: STATIC})
    assert AK not in str(caught.value)


def test_os_cloud_selects_keystone(tmp_path: Path) -> None:
    env = {"OS_CLOUD": "otc", "OS_CLIENT_CONFIG_FILE": str(write_clouds(tmp_path))}
    auth = auth_from_env({**env, TOKEN_ENV: STATIC})
    assert isinstance(auth, KeystonePasswordAuth)
    assert auth.describe()["auth_url"] == "https://iam.eu-de.otc.t-systems.com"


# --- secrets never leak -------------------------------------------------------------------


async def test_no_secret_in_repr_str_or_describe(
    keystone: Keystone, session: aiohttp.ClientSession
) -> None:
    keystone_auth = make_auth(keystone)
    await concurrently(keystone_auth, session, PROJECTS)
    aksk = AkSkAuth(AK, SK)
    await aksk.headers(session, "GET", URL("https://ecs.example/v2.1/p/images"), "p")
    providers: list[AuthProvider] = [NoAuth(), StaticToken(STATIC), aksk, keystone_auth]
    tokens = {token for issued in keystone.valid.values() for token in issued}
    secrets = {PASSWORD, AK, SK, STATIC, *tokens}
    credentials = load_keystone_credentials(FULL_ENV)
    texts = [repr(credentials), str(credentials)]
    for provider in providers:
        texts += [repr(provider), str(provider), repr(provider.describe()), repr(provider.stats)]
    for text in texts:
        assert not any(secret in text for secret in secrets), text
    assert [provider.name for provider in providers] == ["none", "token", "aksk", "keystone"]
