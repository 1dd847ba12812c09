"""The `followup` command: one entry point for deploying, serving, working and administering.

The commands live beside this module, like rq/cli/: `users` (followup user ...), `work` (worker,
scheduler, timers), `imports` (import customers, import revert); `helpers` opens the engine. In
production run the app under gunicorn instead of `serve`:

    followup migrate
    gunicorn -w 4 -b 0.0.0.0:8000 --access-logfile - 'api.wsgi:app'
"""
from pathlib import Path

import click

from engine.errors import FollowupError
from followup import imports, users, work
from followup.helpers import apply_memory_limit, fail, open_engine


@click.group()
def main():
    """Followup: customer follow-up SOPs as BPMN, executed."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads/--no-threads", default=True, show_default=True)
def serve(host, port, threads):
    """Run the HTTP API with the development server (production: gunicorn 'api.wsgi:app')."""
    from api.app import create_app

    apply_memory_limit()
    app = create_app(open_engine())
    click.echo(f"Followup API on http://{host}:{port}/api/docs", err=True)
    app.run(host=host, port=port, threaded=threads, use_reloader=False, debug=False)


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


# The SOPs beside the code (a source checkout, `pip install -e .`), else ./bpmn (the Docker image's /app).
BUNDLED_BPMN = next((p for p in (Path(__file__).resolve().parent.parent / "bpmn", Path.cwd() / "bpmn") if p.is_dir()),
                    Path("bpmn"))

# Login name, role, groups, display name. Agents are spread over the teams the bundled SOPs route to.
DEMO_USERS = [
    ("admin", "admin", [], "管理员 Admin"),
    ("designer", "designer", [], "流程设计 Designer"),
    ("zhaomin", "supervisor", ["supervisors", "sales", "sales-east", "sales-west", "service"], "赵敏 (主管)"),
    ("wangfang", "agent", ["sales", "sales-east"], "王芳"),
    ("liqiang", "agent", ["sales", "sales-west"], "李强"),
    ("chenjing", "agent", ["service"], "陈静"),
]


def deploy_bundled(engine, directory=BUNDLED_BPMN):
    """Deploy every .bpmn and .dmn file in `directory` as one deployment."""
    files = sorted(p for p in Path(directory).glob("*") if p.suffix in (".bpmn", ".dmn"))
    if not files:
        return []
    return engine.deploy([(f.name, f.read_bytes()) for f in files], actor="demo")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--bpmn-dir", default=str(BUNDLED_BPMN), show_default=True, type=click.Path(file_okay=False))
def demo(host, port, bpmn_dir):
    """Run the whole product on its embedded default: SQLite under FOLLOWUP_DATA_DIR (./data), the bundled
    SOPs deployed, demo users with fresh tokens, timers on a background thread, the API on PORT."""
    from api.app import create_app
    from engine.identity import IdentityStore
    from workers.inprocess import start_background

    apply_memory_limit()
    engine = open_engine()
    try:
        for process in deploy_bundled(engine, bpmn_dir):
            click.echo(f"  process {process.key} v{process.version}  {process.name}")
    except FollowupError as err:
        fail(err)
    identity = IdentityStore(engine.db)
    click.echo("\nDemo users (a new token each run; use it as 'Authorization: Bearer <token>'):")
    for name, role, groups, display in DEMO_USERS:
        try:
            identity.user(name)
        except FollowupError:
            identity.add_user(name, role, groups, display)
        _, token = identity.issue_token(name)
        click.echo(f"  {name:10} {role:10} {','.join(groups) or '-':45} {token}")
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the app logs one JSON line per request itself
    background = start_background(engine)
    click.echo(f"\nTimers run in this process. Data: {engine.settings.data_dir}")
    click.echo(f"API docs: http://{host}:{port}/api/docs   (Ctrl-C to stop)\n")
    try:
        create_app(engine).run(host=host, port=port, threaded=True, use_reloader=False, debug=False)
    finally:
        background.stop()


main.add_command(users.user)
for command in (work.worker, work.scheduler, work.timers, imports.import_group):
    main.add_command(command)

if __name__ == "__main__":
    main()
