"""The SOP library's code: the service-task operations (assign, flow, records, watch), their tables and
the reports. Floor: imports the kernel, storage/, customers/ and `engine.context`; never instances/ or
runtime (it reaches the store through `context.current()`)."""
from engine.sop import assign, flow, records, watch  # noqa: E402,F401 - each registers its operations
from engine.sop.registry import OPERATIONS  # noqa: E402

__all__ = ["OPERATIONS"]
