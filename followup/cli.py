"""The `followup` command: one entry point for deploying, serving, working and administering.

The commands live beside this module, like rq/cli/: `users` (followup user ...), `work` (worker,
scheduler, timers), `imports` (import customers, import revert); `helpers` opens the engine. In
production run the app under gunicorn instead of `serve`:

    followup migrate
    gunicorn -w 4 -b 0.0.0.0:8000 --access-logfile - 'api.wsgi:app'
"""
from pathlib import Path

import click

from engine.config import SettingError
from engine.errors import FollowupError
from followup import imports, instances, users, work
from followup.helpers import apply_memory_limit, fail, open_engine


class _Commands(click.Group):
    """A setting typed wrong (FOLLOWUP_CLAIM_LIMIT=2.5) ends any command with its one-line reason."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SettingError as err:
            fail(err)


@click.group(cls=_Commands)
def main():
    """Followup: customer follow-up SOPs as BPMN, executed."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads/--no-threads", default=True, show_default=True)
@click.option("--timers/--no-timers", default=None,
              help="fire timers and deliver messages on a thread of this process (default: on without "
                   "REDIS_URL, unless FOLLOWUP_TIMERS=off)")
def serve(host, port, threads, timers):
    """Run the HTTP API with the development server (production: gunicorn 'api.wsgi:app')."""
    from api.app import create_app

    apply_memory_limit()
    engine = open_engine()
    app = create_app(engine)
    background = start_timers(engine, app, timers)
    click.echo(f"Followup API on http://{host}:{port}/api/docs", err=True)
    try:
        app.run(host=host, port=port, threaded=threads, use_reloader=False, debug=False)
    finally:
        if background is not None:
            background.stop()


def start_timers(engine, app, wanted=None):
    """On the embedded default (no REDIS_URL) start the in-process runner, so every deadline is kept
    whichever command serves; off only when asked (`--no-timers` or FOLLOWUP_TIMERS=off). Says which on
    standard error and tells the app, whose /api/health reports it. Returns the handle or None."""
    import os

    from workers.inprocess import start_background

    if wanted is None:
        wanted = engine.settings.embedded and os.environ.get("FOLLOWUP_TIMERS", "").strip().lower() not in (
            "0", "off", "false", "no")
    if not wanted:
        app.extensions["followup_timers"] = None
        where = ("RQ workers (`followup worker`, `followup scheduler`) on REDIS_URL" if not engine.settings.embedded
                 else "nothing: timers are OFF in this process (`followup timers run` fires what is due)")
        click.echo(f"Timers and messages: {where}", err=True)
        return None
    background = start_background(engine)
    app.extensions["followup_timers"] = background
    click.echo("Timers and messages: run in this process (in-process runner)", err=True)
    return background


@main.command()
def migrate():
    """Bring the database schema up to date."""
    open_engine()
    click.echo("database schema is up to date")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def deploy(files):
    """Deploy BPMN and DMN FILES as one deployment (new versions only where content changed)."""
    engine = open_engine()
    try:
        deployed = engine.deploy([(f.name, f.read_bytes()) for f in files], actor="cli")
    except FollowupError as err:
        fail(err)
    for process in deployed:
        state = "deployed" if process.changed else "unchanged"
        click.echo(f"{process.key} v{process.version} {state}  ({process.name})")
    for warning in getattr(deployed, "warnings", []):  # bpmnlint's recommended rules (they do not refuse)
        click.echo(f"warning: {warning['file']}, element '{warning['element']}': {warning['message']} "
                   f"({warning['rule']})", err=True)


# The SOPs beside the code (a source checkout, `pip install -e .`), else ./bpmn (the Docker image's /app).
BUNDLED_BPMN = next((p for p in (Path(__file__).resolve().parent.parent / "bpmn", Path.cwd() / "bpmn") if p.is_dir()),
                    Path("bpmn"))

# Login name, role, groups, display name. Agents are spread over the teams the bundled SOPs route to
# (lead_routing.dmn: sales-east, sales-north, sales-south, sales-key; the library's lanes: sales, service,
# supervisors, managers), so every bundled SOP runs end to end.
DEMO_USERS = [
    ("admin", "admin", [], "管理员 Admin"),
    ("designer", "designer", [], "流程设计 Designer"),
    ("zhaomin", "supervisor", ["supervisors", "sales", "sales-east", "sales-west", "sales-north", "sales-south",
                               "sales-key", "service"], "赵敏 (主管)"),
    ("zhouzong", "supervisor", ["managers", "supervisors"], "周总 (经理)"),
    ("wangfang", "agent", ["sales", "sales-east"], "王芳"),
    ("liqiang", "agent", ["sales", "sales-west"], "李强"),
    ("zhangwei", "agent", ["sales", "sales-north"], "张伟"),
    ("liuyang", "agent", ["sales", "sales-south"], "刘洋"),
    ("sunli", "agent", ["sales", "sales-key"], "孙丽 (大客户)"),
    ("chenjing", "agent", ["service"], "陈静"),
]

# The check-in template the field service SOPs expect (scenario `visit`), defined on the first run only.
DEMO_CHECKIN = ("visit", "上门拜访 Visit", [
    {"name": "feedback", "label": "客户反馈", "type": "single", "options": ["满意", "一般", "不满意"], "required": True},
    {"name": "where", "label": "位置", "type": "location", "required": True},
    {"name": "photos", "label": "现场照片", "type": "photo", "max": 3},
    {"name": "note", "label": "备注", "type": "text"},
])


def demo_password(name):
    """The demo users' passwords are printed and documented: demo-<name> (never use them elsewhere)."""
    return f"demo-{name}"


def deploy_bundled(engine, directory=BUNDLED_BPMN, only_missing=False):
    """Deploy every .bpmn and .dmn file in `directory` as one deployment. `only_missing`: only the .bpmn
    files none of whose processes is deployed yet (with the .dmn files), so a restarted demo never
    deploys the bundled version over a designer's changes."""
    files = sorted(p for p in Path(directory).glob("*") if p.suffix in (".bpmn", ".dmn"))
    if only_missing:
        files = _missing_files(engine, files)
    if not any(f.suffix == ".bpmn" for f in files):
        return []
    return engine.deploy([(f.name, f.read_bytes()) for f in files], actor="demo")


def _missing_files(engine, files):
    import re

    from engine.errors import NotFound

    def deployed(key):
        try:
            engine.definition(key)
            return True
        except NotFound:
            return False

    keep = []
    for f in files:
        keys = re.findall(rb'<(?:bpmn:)?process\b[^>]*\bid="([^"]+)"', f.read_bytes()) if f.suffix == ".bpmn" else []
        if f.suffix == ".dmn" or not all(deployed(k.decode()) for k in keys):
            keep.append(f)
    return keep


def _demo_checkin_template(engine):
    """The `visit` check-in template, unless an admin already defined one."""
    from engine.customers import define_template
    from engine.customers.checkins import list_templates

    if not any(t.get("scenario") == DEMO_CHECKIN[0] for t in list_templates(engine)):
        define_template(engine, *DEMO_CHECKIN, actor="demo")


def _demo_channels():
    """With no robot configured, the demo's notifications (escalations, reminders) go to the log: every
    channel is a `log` channel, so nothing fails for want of a WeCom or DingTalk URL."""
    import os

    if not os.environ.get("FOLLOWUP_CHANNELS") and not os.environ.get("FOLLOWUP_CHANNELS_FILE"):
        os.environ["FOLLOWUP_CHANNELS"] = '{"*": {"kind": "log"}}'
        click.echo("Notifications: written to the log (set FOLLOWUP_CHANNELS for WeCom/DingTalk robots)")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--bpmn-dir", default=str(BUNDLED_BPMN), show_default=True, type=click.Path(file_okay=False))
def demo(host, port, bpmn_dir):
    """Run the whole product on its embedded default: SQLite under FOLLOWUP_DATA_DIR (./data), the bundled
    SOPs deployed, demo users with fresh tokens, timers on a background thread, the API on PORT."""
    from api.app import create_app
    from engine.identity import IdentityStore

    apply_memory_limit()
    engine = open_engine()
    try:
        for process in deploy_bundled(engine, bpmn_dir, only_missing=True):
            click.echo(f"  process {process.key} v{process.version}  {process.name}")
        _demo_checkin_template(engine)
    except FollowupError as err:
        fail(err)
    identity = IdentityStore(engine.db)
    click.echo("\nDemo users (sign in at the pages with the password; a new API token each run, use it as "
               "'Authorization: Bearer <token>'):")
    for name, role, groups, display in DEMO_USERS:
        try:
            identity.user(name)
        except FollowupError:
            identity.add_user(name, role, groups, display)
        identity.set_password(name, demo_password(name))
        _, token = identity.issue_token(name)
        click.echo(f"  {name:10} {role:10} {','.join(groups) or '-':45} {demo_password(name):15} {token}")
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the app logs one JSON line per request itself
    app = create_app(engine)
    _demo_channels()
    background = start_timers(engine, app, True)
    click.echo(f"\nTimers run in this process. Data: {engine.settings.data_dir}")
    click.echo(f"Pages: http://{host}:{port}/   API docs: http://{host}:{port}/api/docs   (Ctrl-C to stop)\n")
    try:
        app.run(host=host, port=port, threaded=True, use_reloader=False, debug=False)
    finally:
        background.stop()


main.add_command(users.user)
for command in (work.worker, work.scheduler, work.timers, imports.import_group, instances.instances):
    main.add_command(command)

if __name__ == "__main__":
    main()
