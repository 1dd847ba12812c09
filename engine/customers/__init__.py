"""The customer data hub: customers, contacts, leads, opportunities, contracts, payments, tickets,
check-ins, the public pool (公海), imports and the 360° timeline.

Plain functions taking the `Engine` (for `engine.db` and `engine.settings`); no Flask, click or RQ.
The tables live in `engine.customers.schema` on the engine's shared metadata.
"""
from engine.customers.checkins import create_checkin, define_template  # noqa: E402
from engine.customers.customers import create_customer, get_customer, list_customers, update_customer  # noqa: E402
from engine.customers.importer import error_file, import_customers, revert_import  # noqa: E402
from engine.customers.interactions import record_interaction  # noqa: E402
from engine.customers.pool import claim, list_pool, recycle_due  # noqa: E402
from engine.customers.timeline import timeline  # noqa: E402

__all__ = ["claim", "create_checkin", "create_customer", "define_template", "error_file", "get_customer",
           "import_customers", "list_customers", "list_pool", "record_interaction", "recycle_due", "revert_import",
           "timeline", "update_customer"]
