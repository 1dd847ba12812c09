"""The designer's pages: the deployed processes, each with its versions, instance counts and diagram;
upload, validate and deploy with the problems shown (file, line, element, the element marked on the
diagram)."""
from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import access
from engine.errors import DeploymentError, ScriptRefused
from engine.instances import overview
from api.pages import calls, messages

blp = Blueprint("designer", __name__, template_folder="templates")


def _definitions():
    result = calls.call("definitions.list_definitions", 1, 500)
    return sorted(result["items"], key=lambda d: d["key"])


@blp.route("/designer")
def definitions():
    return render_template("definitions.html", definitions=_definitions(),
                           may_deploy=access.allowed(g.user, access.DEFINITION_DEPLOY))


@blp.route("/designer", methods=["POST"])
def deploy():
    """Validate or deploy the uploaded files through the API's own functions (they read the multipart
    field `files`, as `POST /api/deployments` does)."""
    only_check = request.form.get("action") == "validate"
    uploads = [f for f in request.files.getlist("files") if f and f.filename]
    sources = {}
    for upload in uploads:  # kept to draw the diagram with the faulty element marked
        sources[upload.filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]] = upload.read()
        upload.stream.seek(0)
    try:
        if only_check:
            checked = calls.call("deployments.validate", None)
            flash(_("The files are valid: %(processes)s",
                    processes=", ".join(f"{p['name']} ({p['key']})" for p in checked["processes"])), "ok")
            _flash_lint(checked.get("warnings"))
            return definitions()
        else:
            answer = calls.call("deployments.deploy", None)
            deployed = answer["processes"]
    except (DeploymentError, ScriptRefused) as err:
        file = getattr(err, "file", None)
        reason = getattr(err, "reason", err.message)
        text, original = messages.translate(reason)
        original = original or (reason if text != reason else None)  # the parser's own words, under "details"
        xml = sources.get(file) if file and not file.lower().endswith((".dmn", ".dmn11.xml")) else None
        problem = {"message": text, "original": original, "file": file, "line": getattr(err, "line", None),
                   "element": getattr(err, "element", None)}
        return render_template("definitions.html", definitions=_definitions(), may_deploy=True, problem=problem,
                               problem_xml=xml.decode("utf-8", "replace") if xml else None), 400
    for process in deployed:
        if process["changed"]:
            flash(_("Deployed %(name)s as version %(version)s.", name=process["name"],
                    version=process["version"]), "ok")
        else:
            flash(_("%(name)s is unchanged: it stays version %(version)s.", name=process["name"],
                    version=process["version"]), "ok")
    _flash_lint(answer.get("warnings"))
    return redirect(url_for("designer.definitions"))


LINT_SHOWN = 8


def _flash_lint(warnings):
    """What bpmnlint found that does not stop a deploy (a diagram without layout, a task without a name),
    said beside the deploy's result in bpmnlint's words (the linter Camunda Modeler runs), grouped by finding."""
    if not warnings:
        return
    by_message = {}
    for w in warnings:
        by_message.setdefault(w.get("message") or w.get("rule"), []).append(w.get("element") or w.get("file"))
    found = []
    for message, elements in by_message.items():
        shown = ", ".join(str(e) for e in elements[:LINT_SHOWN])
        more = len(elements) - LINT_SHOWN
        found.append(f"{message} ({shown}" + (" " + _("and %(n)s more", n=more) if more > 0 else "") + ")")
    flash(_("Worth a look (bpmnlint): %(found)s", found="; ".join(found)), "warn")


@blp.route("/designer/<key>")
def definition(key):
    version = request.args.get("version", type=int)
    shown = calls.call("definitions.get_definition", {"version": version} if version else {}, key)
    versions = overview.versions(calls.engine(), calls.process_groups(), g.user, key)
    return render_template("definition.html", definition=shown, versions=versions)


@blp.route("/designer/<key>/diagram.bpmn")
def xml(key):
    """The BPMN of a version, for the diagram (the API's `GET /api/definitions/<key>/xml`)."""
    version = request.args.get("version", type=int)
    answer = calls.call("definitions.get_definition_xml", {"version": version} if version else {}, key)
    return Response(answer.get_data(), mimetype="application/xml",
                    headers={"Cache-Control": "private, max-age=3600"})
