"""SpiffWorkflow fitted for Followup: state (de)serialization, parsing, the script sandbox, snapshots,
forms and timer values. Floor: imports only the kernel (no SQL, no customers, no SOP code); what it needs
from above (the operation registry, `notify`) is handed in by `engine.runtime.Engine`."""
