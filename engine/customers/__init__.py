"""The customer data hub: customers, contacts, leads, opportunities, contracts, payments, tickets,
check-ins, the public pool (公海), imports and the 360° timeline.

Plain functions taking the `Engine` (for `engine.db` and `engine.settings`); no Flask, click or RQ.
The tables live in `engine.customers.schema` on the engine's shared metadata.
"""
