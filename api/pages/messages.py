"""What the engine says, in the reader's language.

The engine's errors are English sentences written for API clients (engine/errors.py). A page matches each
against the patterns below and shows the pattern's sentence, written for a person filling in a page (no
ids of enum options, no task ids), translated, with the sentence's values (a user name, a number) put
back. A sentence no pattern knows shows as it is in English; in another language as a general translated
sentence, the original kept aside under "details" (the deploy page's XML parser messages, for example,
come from libxml2 in English).
"""
import re

from babel.lists import format_list
from flask_babel import get_locale, gettext

from engine.status import InstanceStatus


def _l(msgid):
    """Marks a message for the catalog (extracted by pybabel); translated where it is shown."""
    return msgid


STATUS = {
    InstanceStatus.USER_INPUT: _l("waiting for people"), InstanceStatus.WAITING: _l("waiting"),
    InstanceStatus.SUSPENDED: _l("suspended"), InstanceStatus.ERROR: _l("incident"),
    InstanceStatus.COMPLETE: _l("complete"), InstanceStatus.CANCELLED: _l("cancelled"),
}

ACTION = {
    "started": _l("started"), "task_completed": _l("task completed"), "task_claimed": _l("task claimed"),
    "task_unclaimed": _l("task released"), "task_assigned": _l("task assigned"), "timer_fired": _l("timer fired"),
    "timer_failed": _l("timer failed"), "message_received": _l("message received"), "cancelled": _l("cancelled"),
    "suspended": _l("suspended"), "resumed": _l("resumed"), "retried": _l("retried"),
    "escalated": _l("escalated"), "notified": _l("notification sent"), "lead_assigned": _l("lead assigned"),
    "lead_converted": _l("lead converted"), "task_created": _l("task created"),
    "process_started": _l("process started"),
    "survey_recorded": _l("survey recorded"), "sop_outcome": _l("outcome recorded"),
    "returned_to_pool": _l("returned to the pool"), "pool_recycled": _l("returned to the pool"),
    "team_flagged": _l("team flagged"), "task_open": _l("task opened"), "checkin": _l("check-in"),
    "call": _l("call"), "visit": _l("visit"), "meeting": _l("meeting"), "message": _l("message"),
    "moved": _l("owner changed"), "claimed": _l("claimed from the pool"), "assigned": _l("owner assigned"),
    "recycled": _l("returned to the pool"), "released": _l("released to the pool"),
}
# record changes on a customer's timeline: "<record>_<created|updated|reverted>"
RECORDS = {"customer": _l("customer"), "contact": _l("contact"), "lead": _l("lead"), "opportunity": _l("opportunity"),
           "contract": _l("contract"), "payment": _l("payment"), "ticket": _l("ticket")}
CHANGES = {"created": _l("%(record)s created"), "updated": _l("%(record)s changed"),
           "reverted": _l("%(record)s import reverted")}

# customer imports (engine/customers/importer.py): a batch's status, the modes, the keys rows are matched by
IMPORT_STATUS = {"queued": _l("queued"), "running": _l("running"), "applied": _l("imported"),
                 "checked": _l("checked"), "failed": _l("failed"), "cancelled": _l("cancelled"),
                 "reverted": _l("reverted")}
IMPORT_MODE = {"create": _l("create new customers only"), "upsert": _l("create or update"),
               "update": _l("update existing customers only")}
IMPORT_KEY = {"credit_code": _l("credit code"), "name": _l("company name"), "phone": _l("phone")}

# what a bad row of an import names by its code: the field it compares, the list a value is not in, the
# options of a choice (engine/customers/customers.py KINDS and STATUSES; each translation is a spelling the
# importer accepts)
IMPORT_FIELD = {**IMPORT_KEY, "credit code": IMPORT_KEY["credit_code"]}
VOCABULARY = {"level": _l("customer level"), "source": _l("customer source"), "region": _l("region"),
              "industry": _l("industry"), "tag": _l("tag")}
CUSTOMER_CODE = {"company": _l("company"), "person": _l("person"), "lead": _l("lead"),
                 "prospect": _l("prospect"), "customer": _l("customer"), "churned": _l("churned")}

ROLE = {"agent": _l("agent"), "supervisor": _l("supervisor"), "designer": _l("designer"), "admin": _l("admin")}

_NAME = r"'?(?P<{}>[^'\s;]+)'?"


def _p(pattern):
    return re.compile("^" + pattern.replace("{user}", _NAME.format("user")).replace("{id}", _NAME.format("id"))
                      + "$", re.S)


_CODES = "(?:{0})(?:, (?:{0}))*".format("|".join(CUSTOMER_CODE))
_FIELD = "|".join(map(re.escape, IMPORT_FIELD))  # so that 'the file is empty' is not a field's

# (pattern, translation[, {group: table}]): a pattern's named groups fill the translation's placeholders; a
# group with a table is a code (or a list of them) said in words (`label`), with None a list of names.
PATTERNS = [
    # the rows of a customer import (engine/customers/: fields.py, normalize.py, vocab.py, customers.py,
    # importer.py; engine/access.py), first: a choice names its options here, a form's below does not
    (_p(r"longer than (?P<n>\d+) characters"), _l("longer than %(n)s characters")),
    (_p(rf"'(?P<value>.*)' is not one of (?P<options>{_CODES})"), _l("'%(value)s': write %(options)s"),
     {"options": CUSTOMER_CODE}),
    (_p(r"'(?P<value>.*)' is not an e-mail address"), _l("'%(value)s' is not an e-mail address")),
    (_p(r"'(?P<value>.*)' is not a number"), _l("'%(value)s' is not a number")),
    (_p(r"(?P<value>\S+) is outside (?P<low>-?[\d.]+?)\.\.(?P<high>-?[\d.]+)"),
     _l("%(value)s is not between %(low)s and %(high)s")),
    (_p(r"a unified social credit code has 18 characters, not (?P<n>\d+)"),
     _l("a unified social credit code has 18 characters, not %(n)s")),
    (_p(r"character\(s\) (?P<chars>.+) cannot appear in a unified social credit code"),
     _l("%(chars)s cannot appear in a unified social credit code")),
    (_p(r"characters 3 to 8 of a unified social credit code are the region code \(digits\)"),
     _l("characters 3 to 8 of a unified social credit code are the region code (digits)")),
    (_p(r"check digit is (?P<found>\S+) but should be (?P<expected>\S+): the code is mistyped"),
     _l("the last character (the check digit) is %(found)s but should be %(expected)s: the code is mistyped")),
    (_p(r"'(?P<value>.*)' is not a phone number"), _l("'%(value)s' is not a phone number")),
    (_p(r"'(?P<value>.*)': a landline needs its area code \(e\.g\. 010-12345678\)"),
     _l("'%(value)s': a landline needs its area code (e.g. 010-12345678)")),
    (_p(r"'(?P<value>.*)' has the wrong number of digits for an international number"),
     _l("'%(value)s' has the wrong number of digits for an international number")),
    (_p(r"'(?P<value>.*)': a mainland mobile number has 11 digits starting 13-19"),
     _l("'%(value)s': a mainland mobile number has 11 digits starting 13-19")),
    (_p(r"'(?P<value>.*)': a 400/800 number has 10 digits"), _l("'%(value)s': a 400/800 number has 10 digits")),
    (_p(r"'(?P<value>.*)': a landline in area (?P<area>0\d+) is the area code and 8 digits"),
     _l("'%(value)s': a landline in area %(area)s is the area code and 8 digits")),
    (_p(r"'(?P<value>.*)': a landline is a 3-digit area code and 7 or 8 digits"),
     _l("'%(value)s': a landline is a 3-digit area code and 7 or 8 digits")),
    (_p(r"'(?P<value>.*)' is not in the (?P<list>\w+) list \(an admin can add it\)"),
     _l("'%(value)s' is not in the %(list)s list (an admin can add it)"), {"list": VOCABULARY}),
    (_p(r"'(?P<user>.*)' is not an active user"), _l("there is no active user named %(user)s")),
    (_p(r"the team '(?P<team>.*)' is not one of (?P<user>.+)'s teams"),
     _l("the team '%(team)s' is not one of %(user)s's teams")),
    (_p(r"'(?P<owner>.*)' is in none of (?P<user>.+)'s teams"), _l("'%(owner)s' is in none of %(user)s's teams")),
    (_p(r"(?P<user>\S+) is in several teams: name the team, one of (?P<teams>.+) in the column (?P<column>.+)"),
     _l("%(user)s is in several teams: write %(teams)s in the column %(column)s"), {"teams": None}),
    (_p(rf"same (?P<field>{_FIELD}) as row (?P<row>\d+) in this file"),
     _l("same %(field)s as row %(row)s in this file"), {"field": IMPORT_FIELD}),
    (_p(r"the credit code is held by a customer out of your reach; ask an admin"),
     _l("the credit code is held by a customer out of your reach; ask an admin")),
    (_p(rf"ambiguous: customers (?P<ids>[\d, ]+) share this (?P<key>{_FIELD})"),
     _l("ambiguous: customers %(ids)s share this %(key)s"), {"key": IMPORT_FIELD}),
    (_p(r"exists already as customer (?P<id>\d+) '(?P<name>.*)'"),
     _l("exists already as customer %(id)s '%(name)s'")),
    (_p(rf"no customer has this (?P<key>{_FIELD})"), _l("no customer has this %(key)s"), {"key": IMPORT_FIELD}),
    (_p(rf"the (?P<key>{_FIELD}) is empty"), _l("the %(key)s is empty"), {"key": IMPORT_FIELD}),
    (_p(r"customer (?P<id>\d+) '(?P<name>.*)' already has this credit code"),
     _l("customer %(id)s '%(name)s' already has this credit code")),
    (_p(rf"a customer with the same (?P<field>{_FIELD}) exists"), _l("a customer with the same %(field)s exists"),
     {"field": IMPORT_FIELD}),
    # form fields (engine/workflow/forms.py) and check-in fields (engine/customers/checkins.py)
    (_p(r"is required|required"), _l("required")),
    (_p(r"must be a whole number"), _l("must be a whole number")),
    (_p(r"must be a number"), _l("must be a number")),
    (_p(r"must be true or false"), _l("choose yes or no")),
    (_p(r"must be a date like \S+|'.*' is not a date \(YYYY-MM-DD\)"), _l("must be a date like 2026-12-01")),
    (_p(r"must be one of: .*|'.*' is not one of .*|must be a list of distinct options from .*"),
     _l("choose one of the options")),
    (_p(r"must be text( of at most (?P<n>\d+) characters)?"), _l("must be text")),
    (_p(r"must be at least (?P<n>[\d.]+) characters long"), _l("must be at least %(n)s characters long")),
    (_p(r"must be at most (?P<n>[\d.]+) characters long"), _l("must be at most %(n)s characters long")),
    (_p(r"must be at least (?P<n>-?[\d.e+]+)"), _l("must be at least %(n)s")),
    (_p(r"must be at most (?P<n>-?[\d.e+]+)"), _l("must be at most %(n)s")),
    (_p(r"must lie between (?P<low>\S+) and (?P<high>\S+)"), _l("must lie between %(low)s and %(high)s")),
    (_p(r"is read-only"), _l("is read-only")),
    (_p(r"is not a field of this form|not a field of this template"), _l("is not a field of this form")),
    (_p(r"only filled in when .*"), _l("leave this empty with the answers above")),
    (_p(r"(latitude|longitude|accuracy) must be a number between .*|must be \{latitude, longitude, accuracy\}"),
     _l("the location could not be read; allow the browser to use your location")),
    (_p(r"at most (?P<n>\d+) photos"), _l("at most %(n)s photos")),
    (_p(r"must be the id of an uploaded file.*|no uploaded file .*|file .* was uploaded by someone else|"
        r"file .* belongs to another check-in"), _l("upload the photo again")),
    (_p(r"the file is not a JPEG, PNG, WebP or HEIC image|not an image"),
     _l("the file is not a photo (JPEG, PNG, WebP or HEIC)")),
    (_p(r"the file is empty|empty"), _l("the file is empty")),
    (_p(r"the file has (?P<n>\d+) bytes, more than the (?P<limit>\d+) allowed|too large"), _l("the file is too large")),
    (_p(r"some values do not fit the form: .*"), _l("some values do not fit the form; see the fields below")),
    (_p(r"the check-in has invalid fields: .*"), _l("some values do not fit the form; see the fields below")),
    # tasks
    (_p(r"task {id} is already claimed by {user}"), _l("%(user)s has already claimed this task")),
    (_p(r"task {id} was already completed by (?P<user>.+) at (?P<at>\S+)"),
     _l("%(user)s has already completed this task")),
    (_p(r"task {id} is claimed by {user}; only they can complete it"),
     _l("%(user)s holds this task; only they can complete it")),
    # (the engine names the new assignee here, None on a release: say it without the name)
    (_p(r"task {id} is not held by .*"), _l("this task is not yours")),
    (_p(r"task {id} is no longer open: it was completed or cancelled"),
     _l("this task is no longer open: it was completed or cancelled")),
    (_p(r"no open task with id {id}"), _l("no open task here: it was completed, or it is not yours to see")),
    (_p(r"there is no active user named {user}"), _l("there is no active user named %(user)s")),
    # instances
    (_p(r"no process instance with id {id}"), _l("no process instance here, or it is not yours to see")),
    (_p(r"process instance {id} is suspended; resume it first"), _l("the instance is suspended; resume it first")),
    (_p(r"process instance {id} is not suspended \(it is (?P<status>\w+)\)"), _l("the instance is not suspended")),
    (_p(r"process instance {id} has no incident to retry \(it is (?P<status>\w+)\)"),
     _l("the instance has no incident to retry")),
    (_p(r"process instance {id} is (?P<status>\w+)"), _l("the instance has ended")),
    (_p(r"the process instance was changed by someone else at the same moment; .*"),
     _l("someone else changed the instance at the same moment; load the page again and retry")),
    # rights
    (_p(r"an? (?P<role>\w+) may not .*"), _l("your role may not do this")),
    (_p(r".* may see reports of their own teams only .*"), _l("you may see the reports of your own teams only")),
    # customers and check-ins
    (_p(r"no customer with id (?P<id>\d+)"), _l("no customer here, or it is not yours to see")),
    (_p(r"no check-in template {id}( version \d+)?"), _l("this check-in form does not exist")),
    # customer imports (engine/customers/importer.py, import_jobs.py, tabular.py)
    (_p(r"no import batch {id}"), _l("no import here, or it is not yours to see")),
    (_p(r"import {id} cannot be reverted: customers (?P<ids>.+) were changed or used since"),
     _l("the import cannot be reverted: customers %(ids)s were changed or used since")),
    (_p(r"import {id} has already ended \((?P<status>\w+)\): there is nothing to cancel.*"),
     _l("the import has already ended: there is nothing to cancel")),
    (_p(r"import {id} is still (?P<status>\w+) \(.*\): revert it once it has ended"),
     _l("the import is still running: revert it once it has ended")),
    (_p(r"import {id} was a dry run: it wrote nothing to revert"), _l("a check only wrote nothing to revert")),
    (_p(r"import {id} was already reverted by {user} at .*"), _l("%(user)s has already reverted this import")),
    (_p(r"import {id} is still \w+: its error file is ready when it has ended"),
     _l("the error file is ready when the import has ended")),
    (_p(r"cancelled by {user} before it wrote anything"), _l("cancelled by %(user)s before it wrote anything")),
    (_p(r"cancelled by {user} after (?P<done>[\d,]+) of (?P<total>[\d,]+) rows; revert it to undo them"),
     _l("cancelled by %(user)s after %(done)s of %(total)s rows; revert it to undo them")),
    (_p(r"the columns cannot be mapped: name: .*"),
     _l("the file has no column for the customer name (such as 客户名称 or name)")),
    (_p(r"the file has no column for the key '?(?P<key>\w+)'?"), _l("the file has no column for the key %(key)s")),
    (_p(r"old \.xls files cannot be read: .*"), _l("old .xls files cannot be read: save the sheet as .xlsx or .csv")),
    (_p(r"the CSV file is neither UTF-8 nor GBK/GB18030 text"), _l("the CSV file is neither UTF-8 nor GBK text")),
    (_p(r".* has no header row"), _l("the file has no header row")),
    (_p(r".* is not a readable \.xlsx workbook.*|the file is not a readable \.xlsx workbook.*"),
     _l("the file is not a readable .xlsx workbook: open it in Excel and save it again")),
    # definitions and deployments (engine/workflow/parsing.py, api/routes/definitions.py)
    (_p(r"no (\w+ )?process definition with key {id}"), _l("no process with this key")),
    (_p(r"file is larger than (?P<n>\d+) MB"), _l("the file is larger than %(n)s MB")),
    (_p(r"a DOCTYPE \(DTD or entity declaration\) is not allowed in BPMN or DMN files"),
     _l("a DOCTYPE (DTD or entity declaration) is not allowed in BPMN or DMN files")),
    (_p(r"the XML is broken: .*"), _l("the XML is broken")),
    (_p(r"the timer has no expression"), _l("the timer has no expression")),
    (_p(r"(?:script|parameter expression) refused: syntax error on line (?P<n>\d+): .*"),
     _l("syntax error on line %(n)s of the script")),
    (_p(r"script refused: .*|parameter expression refused: .*"),
     _l("the script uses something the sandbox does not allow")),
    (_p(r"syntax error on line (?P<n>\d+): .*"), _l("syntax error on line %(n)s of the script")),
    (_p(r"a deployment needs at least one \.bpmn or \.dmn file|send one or more \.bpmn or \.dmn files.*"),
     _l("choose one or more .bpmn or .dmn files")),
    (_p(r"only \.bpmn and \.dmn files can be deployed"), _l("only .bpmn and .dmn files can be deployed")),
    (_p(r"two files have the same name"), _l("two files have the same name")),
    (_p(r"the decision table cannot be read: .*"), _l("the decision table cannot be read")),
    (_p(r"not a BPMN 2\.0 or DMN document .*"), _l("not a BPMN 2.0 or DMN document")),
    (_p(r"no executable process found in the deployment"), _l("no executable process found in the files")),
    (_p(r"the service task calls the unknown operation {id} .*"),
     _l("the service task calls an unknown operation: %(id)s")),
    (_p(r"another deployment of the same process was stored at the same moment; deploy again"),
     _l("another deployment of the same process was stored at the same moment; deploy again")),
]

GENERAL = _l("this could not be done")


def translate(message: str) -> tuple[str, str | None]:
    """(the message in the reader's language, the original when it had to be left aside, else None)."""
    message = (message or "").strip()
    for pattern, translation, *tables in PATTERNS:
        found = pattern.match(message)
        if found:
            tables = tables[0] if tables else {}
            values = {k: _said(tables[k], v) if k in tables else v for k, v in found.groupdict().items() if v}
            return gettext(translation, **values), None
    if get_locale().language == "en":
        return message, None
    return gettext(GENERAL), message


def _said(table, codes):
    """'company, person' as 'company or person' ('企业或个人'), each code in words (a name as it is)."""
    return format_list([label(table, code) if table else code for code in codes.split(", ")], style="or",
                       locale=get_locale())


def say(message: str) -> str:
    """Only the message, translated (a field's reason)."""
    return translate(message)[0]


def field_errors(errors: dict) -> dict:
    """{field: [reasons]} with each reason translated."""
    return {name: [say(str(r)) for r in (reasons if isinstance(reasons, list) else [reasons])]
            for name, reasons in (errors or {}).items()}


def label(table: dict, code) -> str:
    """A status, action or role in the reader's language; a code the table does not know stays a code."""
    found = table.get(code)
    if found is None and table is ACTION and isinstance(code, str):
        record, _sep, change = code.rpartition("_")
        if record in RECORDS and change in CHANGES:
            return gettext(CHANGES[change], record=gettext(RECORDS[record]))
    return gettext(found) if found is not None else str(code)
