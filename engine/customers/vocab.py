"""Controlled vocabularies (level, source, region, industry (a tree), tag): values are codes from
`vocab_terms`; input may give the code or the label, and is stored as the code."""
import sqlalchemy as sa

from engine.errors import Conflict, InvalidInput, NotFound

from engine.customers.common import row_dict
from engine.customers.defaults import default_terms
from engine.customers.schema import vocab_terms

VOCABULARIES = ("level", "source", "region", "industry", "tag")


class Vocabularies:
    """The active terms, loaded once for a batch of validations."""

    def __init__(self, conn):
        self.terms = {v: {} for v in VOCABULARIES}
        self.by_label = {v: {} for v in VOCABULARIES}
        for row in conn.execute(sa.select(vocab_terms).where(vocab_terms.c.active == sa.true())):
            self.terms.setdefault(row.vocabulary, {})[row.code] = row
            self.by_label.setdefault(row.vocabulary, {})[row.label.casefold()] = row.code

    def resolve(self, vocabulary, value):
        """The code for `value` (a code or a label); None for empty. ValueError names the vocabulary."""
        if value is None or str(value).strip() == "":
            return None
        text = str(value).strip()
        terms = self.terms.get(vocabulary, {})
        if text in terms:
            return text
        if text.upper() in terms:
            return text.upper()
        code = self.by_label.get(vocabulary, {}).get(text.casefold())
        if code is None and "/" in text:  # an industry path like 制造业/汽车制造业
            code = self.by_label.get(vocabulary, {}).get(text.rsplit("/", 1)[-1].strip().casefold())
        if code is None:
            raise ValueError(f"'{text}' is not in the {vocabulary} list (an admin can add it)")
        return code

    def level_attr(self, code, name, default=None):
        term = self.terms["level"].get(code)
        return (term.attrs or {}).get(name, default) if term is not None else default


def list_terms(engine, vocabulary=None, include_inactive=False):
    query = sa.select(vocab_terms).order_by(vocab_terms.c.vocabulary, vocab_terms.c.position, vocab_terms.c.code)
    if vocabulary:
        query = query.where(vocab_terms.c.vocabulary == vocabulary)
    if not include_inactive:
        query = query.where(vocab_terms.c.active == sa.true())
    with engine.db.connect() as conn:
        return [row_dict(r) for r in conn.execute(query)]


def _check(vocabulary, code, label):
    errors = {}
    if vocabulary not in VOCABULARIES:
        errors["vocabulary"] = [f"one of {', '.join(VOCABULARIES)}"]
    if not code or not str(code).strip():
        errors["code"] = ["required"]
    if label is not None and not str(label).strip():
        errors["label"] = ["required"]
    if errors:
        raise InvalidInput("invalid vocabulary term", errors)


def add_term(engine, vocabulary, code, label, parent_code=None, position=0, attrs=None):
    """An admin adds a term; industry terms may name a parent (the tree)."""
    _check(vocabulary, code, label)
    with engine.db.begin() as conn:
        if conn.execute(sa.select(vocab_terms.c.id).where(vocab_terms.c.vocabulary == vocabulary,
                                                          vocab_terms.c.code == code)).first():
            raise Conflict(f"{vocabulary} '{code}' exists already")
        if parent_code and not conn.execute(sa.select(vocab_terms.c.id).where(
                vocab_terms.c.vocabulary == vocabulary, vocab_terms.c.code == parent_code)).first():
            raise InvalidInput(f"parent '{parent_code}' is not a {vocabulary}", {"parent_code": ["unknown"]})
        conn.execute(vocab_terms.insert().values(vocabulary=vocabulary, code=code, label=label,
                                                 parent_code=parent_code, position=position, attrs=attrs))
    return code


def update_term(engine, vocabulary, code, **changes):
    """Change label, position, active (retiring a term keeps old records readable) or attrs."""
    allowed = {"label", "position", "active", "attrs", "parent_code"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput("unknown term fields", {k: ["cannot be changed"] for k in unknown})
    with engine.db.begin() as conn:
        done = conn.execute(vocab_terms.update().where(vocab_terms.c.vocabulary == vocabulary,
                                                       vocab_terms.c.code == code).values(**changes))
        if done.rowcount == 0:
            raise NotFound(f"no {vocabulary} '{code}'")


def seed_defaults(engine):
    """Insert the default terms that are missing (idempotent)."""
    with engine.db.begin() as conn:
        have = {(r.vocabulary, r.code) for r in conn.execute(sa.select(vocab_terms.c.vocabulary, vocab_terms.c.code))}
        missing = [t for t in default_terms() if (t["vocabulary"], t["code"]) not in have]
        if missing:
            conn.execute(vocab_terms.insert(), missing)
    return len(missing)
