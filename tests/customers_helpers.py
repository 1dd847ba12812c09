"""Shared helpers for the customer hub tests (users, vocabularies)."""
import sqlalchemy as sa

from engine import clock
from engine.customers.vocab import seed_defaults
from engine.storage.schema import user_groups, users


def add_user(engine, name, role="agent", groups=()):
    with engine.db.begin() as conn:
        user_id = conn.execute(users.insert().values(name=name, role=role, created_at=clock.now())
                               .returning(users.c.id)).scalar_one()
        for group in groups:
            conn.execute(user_groups.insert().values(user_id=user_id, group_name=group))
    return user_id


def seeded(engine):
    seed_defaults(engine)
    return engine


def count(engine, table):
    with engine.db.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
