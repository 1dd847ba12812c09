"""Work that happens later than the request: claiming due timers, firing them, timer start launchers,
outbox delivery and webhooks. Floor: imports instances/ and below."""
