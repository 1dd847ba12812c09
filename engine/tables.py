"""Every table of Followup on one metadata: the runtime's (storage/schema.py), the customer hub's
(customers/schema.py) and the SOP operations' (sop/schema.py). Alembic's env.py and the migration test
read `metadata` from here; nothing else needs to import all three."""
from engine.customers import schema as customer_tables  # noqa: F401 - declares the customer hub's tables
from engine.sop import schema as operation_tables  # noqa: F401 - declares the SOP operations' tables
from engine.storage import schema as runtime_tables  # noqa: F401 - declares the runtime's tables
from engine.storage.metadata import metadata

__all__ = ["metadata"]
