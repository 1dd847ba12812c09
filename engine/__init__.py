"""Followup's workflow runtime and domain.

The engine knows nothing of Flask or RQ: the API and the workers call into it, and it talks to the
database through SQLAlchemy. Start at `engine.runtime.Engine`.
"""
