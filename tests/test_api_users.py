"""Authentication, tokens and user administration over HTTP and the CLI."""
import os
import subprocess
import sys

from api_fixtures import *  # noqa: F401,F403
from api_fixtures import Caller
from engine.storage.schema import api_tokens


def test_no_token_or_a_bad_one_is_401_with_a_json_body(client, team):
    for headers in ({}, {"Authorization": "Bearer fu_not-a-real-token"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer "}, {"Authorization": team.li.token}):
        response = client.get("/api/tasks", headers=headers)
        assert response.status_code == 401, headers
        assert response.get_json()["status"] == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.post("/api/deployments").status_code == 401
    assert client.get("/api/instances/whatever").status_code == 401  # existence is not checked first


def test_tokens_are_stored_only_as_hashes(engine, team):
    with engine.db.connect() as conn:
        stored = [r.token_hash for r in conn.execute(api_tokens.select())]
    assert team.li.token not in stored and all(len(h) == 64 for h in stored)
    assert team.li.token.startswith("fu_") and len(team.li.token) > 40


def test_me_tells_who_and_what_rights(team):
    me = team.boss.get("/api/me").get_json()
    assert me["name"] == "boss" and me["role"] == "supervisor" and me["groups"] == ["sales-east", "supervisors"]
    assert "task:assign" in me["rights"] and "definition:deploy" not in me["rights"]


def test_logging_out_revokes_the_token(team):
    assert team.li.delete("/api/me/token").status_code == 204
    assert team.li.get("/api/me").status_code == 401


def test_admins_manage_users_and_tokens(client, team):
    created = team.admin.post("/api/users", json={"name": "mei", "role": "agent", "groups": ["service"]})
    assert created.status_code == 201 and created.headers["Location"].endswith("/api/users/mei")
    body = created.get_json()
    assert body["user"] == {"name": "mei", "display_name": "", "role": "agent", "groups": ["service"], "active": True}
    mei = Caller(client, body["token"], "mei")
    assert mei.get("/api/me").get_json()["name"] == "mei"
    assert team.admin.post("/api/users", json={"name": "mei", "role": "agent"}).status_code == 409
    bad = team.admin.post("/api/users", json={"name": "bad name!", "role": "king"})
    assert bad.status_code == 422 and "role" in bad.get_json()["errors"]
    bad_name = team.admin.post("/api/users", json={"name": "bad name!", "role": "agent"})
    assert bad_name.status_code == 422 and "name" in bad_name.get_json()["errors"]
    assert team.admin.get("/api/users").get_json()["total"] == 8
    assert team.admin.get("/api/users/mei").get_json()["groups"] == ["service"]
    assert team.admin.get("/api/users/nobody").status_code == 404

    second = team.admin.post("/api/users/mei/tokens").get_json()
    tokens = team.admin.get("/api/users/mei/tokens").get_json()
    assert [t["id"] for t in tokens] == [body["id"], second["id"]] and tokens[0]["revoked_at"] is None
    assert team.admin.delete(f"/api/users/mei/tokens/{body['id']}").status_code == 204
    assert mei.get("/api/me").status_code == 401
    assert Caller(client, second["token"]).get("/api/me").status_code == 200
    assert team.admin.delete(f"/api/users/mei/tokens/{body['id']}").status_code == 404

    moved = team.admin.patch("/api/users/mei", json={"role": "supervisor", "groups": ["service", "supervisors"]})
    assert moved.get_json()["role"] == "supervisor" and moved.get_json()["groups"] == ["service", "supervisors"]
    assert team.admin.patch("/api/users/mei", json={"active": False}).status_code == 200
    assert Caller(client, second["token"]).get("/api/me").status_code == 401
    assert team.admin.patch("/api/users/ada", json={"active": False}).status_code == 409
    assert team.admin.patch("/api/users/nobody", json={"role": "agent"}).status_code == 404


def test_only_admins_manage_users(team):
    for caller in (team.li, team.boss, team.designer):
        assert caller.get("/api/users").status_code == 403
        assert caller.post("/api/users", json={"name": "x", "role": "admin"}).status_code == 403
        assert caller.post("/api/users/li/tokens").status_code == 403
        assert caller.patch("/api/users/li", json={"role": "admin"}).status_code == 403


def _cli(args, data_dir, database_url):
    env = {**os.environ, "DATABASE_URL": database_url, "FOLLOWUP_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "followup.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_cli_user_add_prints_only_the_token_and_it_works(engine, client, tmp_path):
    url = engine.db.url.render_as_string(hide_password=False)
    added = _cli(["user", "add", "zoe", "--role", "agent", "--groups", "service,sales-east"], tmp_path, url)
    assert added.returncode == 0, added.stderr
    lines = added.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fu_")
    me = Caller(client, lines[0]).get("/api/me").get_json()
    assert me["name"] == "zoe" and me["groups"] == ["sales-east", "service"]
    again = _cli(["user", "token", "zoe"], tmp_path, url)
    assert again.returncode == 0 and len(again.stdout.splitlines()) == 1 and again.stdout.strip() != lines[0]
    assert Caller(client, again.stdout.strip()).get("/api/me").status_code == 200
    dup = _cli(["user", "add", "zoe", "--role", "agent"], tmp_path, url)
    assert dup.returncode == 1 and dup.stdout == "" and "already exists" in dup.stderr
    unknown = _cli(["user", "token", "nobody"], tmp_path, url)
    assert unknown.returncode == 1 and unknown.stdout == ""
