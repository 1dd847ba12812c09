"""Fixtures for the API tests: the app on the test engine, and users to call it as.

Import them into a test module with `from api_fixtures import *  # noqa: F401,F403`.
"""
import io

import pytest

from api import create_app
from conftest import BPMN_DIR
from engine.identity import IdentityStore


class Caller:
    """A test client that sends one user's bearer token with every call."""

    def __init__(self, client, token, name=None):
        self.client, self.token, self.name = client, token, name

    def _headers(self, kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return headers

    def get(self, url, **kwargs):
        return self.client.get(url, headers=self._headers(kwargs), **kwargs)

    def post(self, url, **kwargs):
        return self.client.post(url, headers=self._headers(kwargs), **kwargs)

    def patch(self, url, **kwargs):
        return self.client.patch(url, headers=self._headers(kwargs), **kwargs)

    def put(self, url, **kwargs):
        return self.client.put(url, headers=self._headers(kwargs), **kwargs)

    def delete(self, url, **kwargs):
        return self.client.delete(url, headers=self._headers(kwargs), **kwargs)

    def deploy(self, *names):
        files = [(io.BytesIO((BPMN_DIR / n).read_bytes()), n) for n in names]
        return self.post("/api/deployments", data={"files": files}, content_type="multipart/form-data")


@pytest.fixture
def app(engine, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_TOKEN_CACHE_SECONDS", "0")
    return create_app(engine)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def identity(engine):
    return IdentityStore(engine.db)


@pytest.fixture
def make_user(client, identity):
    """make_user(name, role, groups=()) -> Caller"""
    def _make(name, role, groups=()):
        identity.add_user(name, role, groups)
        return Caller(client, identity.issue_token(name)[1], name)
    return _make


@pytest.fixture
def team(make_user):
    """A small organisation: designer, admin, two sales-east agents, a service agent, a sales-east
    supervisor, a service supervisor."""
    class Team:
        designer = make_user("dora", "designer")
        admin = make_user("ada", "admin")
        li = make_user("li", "agent", ["sales-east"])
        wang = make_user("wang", "agent", ["sales-east"])
        sam = make_user("sam", "agent", ["service"])
        boss = make_user("boss", "supervisor", ["sales-east", "supervisors"])
        chief = make_user("chief", "supervisor", ["service"])
    return Team


def start(caller, key, business_key=None, **variables):
    response = caller.post("/api/instances", json={"process_key": key, "business_key": business_key,
                                                   "variables": variables})
    assert response.status_code == 201, response.get_json()
    return response.get_json()
