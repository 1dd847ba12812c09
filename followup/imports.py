"""`followup import customers FILE`: bring a customer spreadsheet in (registered by followup/cli.py)."""
import sys
from pathlib import Path

import click

from engine.errors import FollowupError

from followup.helpers import fail, open_engine


@click.group("import")
def import_group():
    """Import records from spreadsheets."""


@import_group.command("customers")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="check every row and report; write nothing")
@click.option("--mode", type=click.Choice(["create", "upsert", "update"]), default="create", show_default=True,
              help="create-only, create-or-update by --key, or update-only by --key")
@click.option("--key", type=click.Choice(["credit_code", "name", "phone"]),
              help="how rows find existing customers (default: credit_code when the file has it, else name)")
@click.option("--map", "mappings", multiple=True, metavar="HEADER=FIELD",
              help="map a column to a field, e.g. --map 销售代表=owner (FIELD empty: ignore the column)")
@click.option("--errors", "errors_path", type=click.Path(dir_okay=False, path_type=Path),
              help="write the bad rows with their reasons to this CSV (default: FILE.errors.csv; a dry run "
                   "writes it only when this is given)")
@click.option("--actor", default="cli", show_default=True, help="user name recorded as the importer")
def import_customers_command(file, dry_run, mode, key, mappings, errors_path, actor):
    """Import customers from FILE (.xlsx or .csv, Chinese or English headers)."""
    from engine.customers.importer import error_file, import_customers

    mapping = {}
    for item in mappings:
        header, sep, field = item.partition("=")
        if not sep:
            raise click.BadParameter(f"'{item}' is not HEADER=FIELD", param_hint="--map")
        mapping[header.strip()] = field.strip() or None
    engine = open_engine()
    bar = click.progressbar(length=1, label="checking and importing", file=sys.stderr)
    state = {"done": 0}

    def progress(done, total):
        bar.length = max(total, 1)
        bar.update(done - state["done"])
        state["done"] = done

    try:
        with bar:
            report = import_customers(engine, file, mapping or None, mode, key, dry_run, actor, progress=progress)
    except FollowupError as err:
        fail(err)
    verb = "would create" if dry_run else "created"
    click.echo(f"{report['total_rows']} rows: {verb} {report['created']}, "
               f"{'would update' if dry_run else 'updated'} {report['updated']}, unchanged {report['unchanged']}, "
               f"bad {report['failed']}" + ("" if dry_run else f"  (batch {report['batch_id']})"))
    for error in report["errors"][:50]:
        click.echo(f"  row {error['row']}, {error['column']}: {error['reason']}")
    if len(report["errors"]) > 50:
        click.echo(f"  ... and {len(report['errors']) - 50} more")
    for warning in report["warnings"][:20]:
        ids = ", ".join(str(c["id"]) for c in warning["candidates"])
        click.echo(f"  warning: row {warning['row']}, {warning['column']}: {warning['reason']}"
                   + (f" (customers {ids})" if ids else ""))
    if report["ignored_columns"]:
        click.echo(f"  ignored columns: {', '.join(report['ignored_columns'])}")
    if report["failed"]:
        if dry_run and errors_path is None:  # a dry run writes nothing, not even the error file, unless asked
            click.echo("(dry run: nothing written; add --errors FILE for the bad rows as a CSV)")
        else:
            path = errors_path or file.with_name(file.stem + ".errors.csv")
            path.write_bytes(error_file(report))
            click.echo(f"bad rows written to {path}")
        sys.exit(3 if dry_run else 0)


@import_group.command("revert")
@click.argument("batch_id", type=int)
@click.option("--actor", default="cli", show_default=True)
def revert_command(batch_id, actor):
    """Undo one import batch as a whole."""
    from engine.customers.importer import revert_import

    try:
        result = revert_import(open_engine(), batch_id, actor)
    except FollowupError as err:
        fail(err)
    click.echo(f"import {batch_id} reverted: {result['deleted']} customers deleted, {result['restored']} restored")


@import_group.command("cancel")
@click.argument("batch_id", type=int)
@click.option("--actor", default="cli", show_default=True)
def cancel_command(batch_id, actor):
    """Stop an import that is queued or running (the rows it wrote stay: revert it to undo them)."""
    try:
        batch = open_engine().imports.cancel(batch_id, actor)
    except FollowupError as err:
        fail(err)
    click.echo(f"import {batch_id}: {batch['error']}")


@import_group.command("status")
@click.argument("batch_id", type=int)
def status_command(batch_id):
    """Show an import's status and progress (one started in the background by the API, say)."""
    try:
        batch = open_engine().imports.batch(batch_id)
    except FollowupError as err:
        fail(err)
    total = batch["total_rows"]
    width, percent = 30, batch["percent"]
    bar = "#" * (width * percent // 100) + "-" * (width - width * percent // 100)
    rows = f"{batch['rows_done']:,} of {total:,} rows" if total is not None else "file not read yet"
    click.echo(f"import {batch_id} ({batch['file_name']}, by {batch['actor']}): {batch['status']}"
               + (" (dry run)" if batch["dry_run"] else ""))
    click.echo(f"[{bar}] {percent:3d}%  {rows}")
    summary = batch["summary"]
    if batch["status"] in ("applied", "checked", "reverted") and summary:
        verb = "would create" if batch["dry_run"] else "created"
        click.echo(f"{summary.get('total_rows')} rows: {verb} {summary.get('created')}, updated "
                   f"{summary.get('updated')}, unchanged {summary.get('unchanged')}, bad {summary.get('failed')}")
    if batch["error"]:
        click.echo(f"error: {batch['error']}")
