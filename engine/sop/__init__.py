"""The SOP library's code: the service-task operations (assign, flow, records, watch), their tables and
the reports. Floor: imports the kernel, storage/, customers/ and `engine.context`; never instances/ or
runtime (it reaches the store through `context.current()`)."""
