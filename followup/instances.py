"""`followup instances migrate`: move running instances to another version of their process."""
import sys

import click

from engine.errors import FollowupError
from followup.helpers import fail, open_engine


@click.group()
def instances():
    """Running process instances."""


def _mapping(pairs):
    mapping = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            fail(f"--map takes OLD=NEW (element ids), not '{pair}'", code=2)
        mapping[old.strip()] = new.strip()
    return mapping


@instances.command()
@click.argument("key")
@click.option("--to-version", type=int, required=True, help="the version to move to")
@click.option("--from-version", type=int, help="only instances on this version (default: every other version)")
@click.option("--map", "pairs", multiple=True, metavar="OLD=NEW", help="an element renamed or moved (repeat)")
@click.option("--dry-run", is_flag=True, help="say what would happen to each instance; change nothing")
def migrate(key, to_version, from_version, pairs, dry_run):
    """Move the running instances of process KEY to version N, each in its own transaction. Instances
    that cannot move stay as they are and are listed with the reason."""
    engine = open_engine()
    mapping = _mapping(pairs)
    try:
        if dry_run:
            plan = engine.plan_migration(key, to_version, from_version, mapping)
            for item in plan["instances"]:
                if item["can_migrate"]:
                    moves = ", ".join(f"{t['element_id'] or '-'}->{t['to_element_id'] or '-'} {t['result']}"
                                      for t in item["tasks"]) or "no open tasks"
                    click.echo(f"  {item['instance_id']}  v{item['from_version']}  can move   waits at "
                               f"{', '.join(item['tokens']) or '-'}; tasks: {moves}")
                else:
                    click.echo(f"  {item['instance_id']}  v{item['from_version']}  CANNOT move: {item['reason']}")
            click.echo(f"{plan['can_migrate']} of {plan['total']} running instance(s) of {key} can move to "
                       f"v{plan['to_version']} (dry run: nothing was changed)")
            return
        batch = engine.migrations.start(key, to_version, from_version, mapping, actor="cli", queued=False)
        with click.progressbar(length=max(batch["total"], 1), label=f"migrating {key} to v{to_version}",
                               file=sys.stderr) as bar:
            done = engine.migrations.run(batch["id"], progress=lambda n, total: bar.update(1))
    except FollowupError as err:
        fail(err)
    for outcome in done["outcomes"]:
        if outcome["result"] == "skipped":
            click.echo(f"  {outcome['instance_id']}  v{outcome['from_version']}  left as it is: {outcome['reason']}")
    click.echo(f"migration {done['id']}: {done['migrated']} moved, {done['skipped']} left as they are, "
               f"of {done['total']}")
    sys.exit(0 if done["skipped"] == 0 else 3)
