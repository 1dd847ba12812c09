"""Followup's workflow runtime and domain. Start at `engine.runtime.Engine`.

The engine knows nothing of Flask or RQ: the API, the workers and the CLI call into it. Its floors, each
importing only the ones before it (tests/test_layout__floors.py checks this, and that there are no
import circles):

1. kernel: clock, config, errors, fastjson, calendar, holidays_cn, context, status: nothing of ours.
2. storage/ (database, metadata, tables of the runtime, the Backend chosen once per URL) and
   workflow/ (SpiffWorkflow fitted for us: state, parsing, sandbox, snapshot, forms): the kernel only.
3. identity, access (users, the permission rule) and customers/ (the customer hub): kernel and storage.
4. sop/ (service-task operations, their tables, reports): kernel, storage, customers; never instances/.
5. instances/ (one transaction per change, task claims, definitions, queries): kernel, storage,
   workflow, identity, access; never customers/ or sop/: it is handed a registry and hooks.
6. background/ (timers, firing, launchers, outbox delivery, webhooks): instances/ and below.
7. runtime.py (Engine, the composition root) and tables.py (every table, for Alembic): wire it all.
api/ and workers/ call the engine and never import engine.storage; followup/ (the CLI) stands above all.
"""
