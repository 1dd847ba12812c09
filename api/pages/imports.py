"""The customer import page (supervisors and admins): upload a spreadsheet to check or import, the imports
the reader reaches, and a batch's page with its progress (polled while it runs), errors, cancel and revert.

Everything goes through the API's own import routes (`calls.py`): who may import, whose batches one
reaches, what a revert or a cancel refuses are the API's. A small file is imported in the request and its
report shown at once; a big one (or `background=true`) is queued and the reader lands on its batch page."""
import csv
import io

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _
from marshmallow import ValidationError

from engine.customers.importer import HEADERS, KEYS, UNFINISHED
from engine.customers.tabular import write_csv
from engine.errors import Conflict, InvalidInput
from api.pages import calls, messages
from api.pages.templating import page_count
from api.schemas.customers import ImportArgs

blp = Blueprint("import_pages", __name__, template_folder="templates")

MODES = ("create", "upsert", "update")
PAGE_SIZE = 20
POLL_SECONDS = 2


def _listing(page):
    result = calls.call("imports.list_imports", page=page, page_size=PAGE_SIZE)
    total = result["total"] or 0
    return dict(items=result["items"], total=total, page=page, pages=page_count(total, PAGE_SIZE),
                modes=MODES, keys=KEYS)


def _page_number():
    page = request.args.get("page", 1, type=int)
    return page if page and page >= 1 else 1


@blp.route("/imports")
def imports():
    return render_template("imports.html", **_listing(_page_number()), chosen={})


@blp.route("/imports", methods=["POST"])
def upload():
    """Check or import the uploaded file. A check's report is this answer (it wrote nothing, no batch keeps
    it); an import goes to its batch's page (303), which shows the same report, so that reloading the page
    does not send the file again."""
    upload = request.files.get("file")
    chosen = {"mode": request.form.get("mode"), "key": request.form.get("key") or None,
              "dry_run": request.form.get("action") == "check"}
    if upload is None or not upload.filename:
        return _refused(_("Choose a file first."), None, chosen)
    try:
        form = ImportArgs().load({k: v for k, v in {**chosen, "background": request.form.get("background")}.items()
                                  if v is not None})
        answer = calls.call("imports.start_import", {"file": upload}, form)
    except ValidationError:
        return _refused(_("Choose a mode and a key from the lists."), None, chosen)
    except InvalidInput as err:
        return _refused(*messages.translate(err.message), chosen)
    if isinstance(answer, Response):  # queued (202): its page shows the progress
        batch_id = answer.get_json()["id"]
        flash(_("The file is queued: it is imported in the background."), "ok")
        return redirect(url_for("import_pages.batch", batch_id=batch_id))
    report = answer[0] if isinstance(answer, tuple) else answer
    if report.get("batch_id"):  # written: its page shows the report, and reloading it imports nothing again
        flash(_("The file is imported."), "ok")
        return redirect(url_for("import_pages.batch", batch_id=report["batch_id"]), 303)
    report["errors"] = [{**e, "reason": reason(e["reason"])} for e in report["errors"]]
    report["warnings"] = [{**w, "reason": reason(w["reason"])} for w in report["warnings"]]
    return render_template("imports.html", **_listing(1), report=report, chosen=chosen)


def _refused(text, original, chosen):
    return render_template("imports.html", **_listing(1), problem={"message": text, "original": original},
                           chosen=chosen), 422


def reason(text):
    """A bad cell's reason in the reader's language where the catalog knows it, else as the importer says it
    (a general "could not be done" would hide which cell to fix)."""
    said, original = messages.translate(text)
    return original or said


def _batch(batch_id):
    found = calls.call("imports.get_import", batch_id)
    for kind in ("errors", "warnings"):
        found[kind] = [{**e, "reason": reason(e["reason"])} for e in found.get(kind) or []]
    if found.get("error"):
        found["error"], found["error_original"] = messages.translate(found["error"])
    return found


def _batch_context(batch):
    return dict(batch=batch, running=batch["status"] in UNFINISHED, poll=POLL_SECONDS,
                revertible=batch["status"] in ("applied", "failed", "cancelled") and not batch["dry_run"])


@blp.route("/imports/<int:batch_id>")
def batch(batch_id):
    return render_template("import.html", **_batch_context(_batch(batch_id)))


@blp.route("/imports/<int:batch_id>/progress")
def progress(batch_id):
    """The batch's card alone, for the page's polling (htmx swaps it in; once ended it polls no more)."""
    return render_template("_import_batch.html", **_batch_context(_batch(batch_id)))


@blp.route("/imports/<int:batch_id>/errors.csv")
def errors_csv(batch_id):
    """The API's error file; on a page in another language than English its reasons are in the reader's (the
    API's own file stays English, for its clients)."""
    answer = calls.call("imports.import_errors", batch_id)
    if get_locale().language != "en":
        headers, *rows = csv.reader(io.StringIO(answer.get_data().decode("utf-8-sig")))
        columns = {*headers[1:-1], *HEADERS}
        answer.set_data(write_csv(headers, [[*row[:-1], _reasons(row[-1], columns)] for row in rows]))
    return answer


def _reasons(cell, columns):
    """'联系电话: why; 客户名称: why' (importer.report_of) with each why translated. A reason may hold '; '
    itself: a new one starts where a column of the file (or a field's name) is followed by ': '."""
    said = []
    for part in cell.split("; "):
        column, sep, why = part.partition(": ")
        if sep and column in columns or not said:
            said.append([column, why] if sep else ["", part])
        else:
            said[-1][1] += "; " + part
    return "; ".join(f"{column}: {reason(why)}" if column else reason(why) for column, why in said)


@blp.route("/imports/<int:batch_id>/<action>", methods=["POST"])
def act(batch_id, action):
    if action not in ("cancel", "revert"):
        return redirect(url_for("import_pages.batch", batch_id=batch_id))
    try:
        done = calls.call(f"imports.{action}_import", batch_id)
    except Conflict as err:  # ended already, still running, changed since: said on the page
        flash(messages.say(err.message), "error")
    else:
        flash(_("The import is cancelled.") if action == "cancel" else
              _("The import is reverted (customers deleted: %(deleted)s, restored: %(restored)s).",
                deleted=done["deleted"], restored=done["restored"]), "ok")
    return redirect(url_for("import_pages.batch", batch_id=batch_id))
