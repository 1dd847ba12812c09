"""Health (no auth), Prometheus metrics, and the offline docs page."""
from flask import Response, current_app

from engine import access

from api.schemas import workflow as s
from api.docs import render_docs
from api.services import current_user, services
from api.routes.common import Blueprint

blp = Blueprint("system", __name__, description="Health, metrics and documentation")


STUCK_AFTER = 120.0  # seconds one round of the in-process runner may take (2,000 timers fire in ~10 s on SQLite)


def _check_timers():
    """Who keeps the deadlines: RQ workers (Redis), or the in-process runner of the serving command."""
    if not services().engine.settings.embedded:
        return {"ok": True, "detail": "fired by RQ workers (followup worker, followup scheduler)"}
    if "followup_timers" not in current_app.extensions:
        return {"ok": True, "detail": "not run by this process (embedded: `followup serve` runs them; "
                                      "`followup timers run` fires what is due)"}
    handle = current_app.extensions["followup_timers"]
    if handle is None:
        return {"ok": True, "detail": "turned off in this process (--no-timers or FOLLOWUP_TIMERS=off)"}
    if not handle.running:
        return {"ok": False, "detail": "the in-process runner has stopped"}
    stuck = handle.scheduler.stuck_for()
    if stuck > STUCK_AFTER:
        return {"ok": False, "detail": f"the in-process runner has been in one round for {stuck:.0f} s: a database "
                                       "call or a webhook that does not answer? No timer fires until it ends"}
    return {"ok": True, "detail": "run in this process"}


def _check_redis():
    url = services().engine.settings.redis_url
    if not url:
        return {"ok": True, "detail": "not configured (embedded mode)"}
    client = current_app.extensions.get("followup_redis")
    try:
        if client is None:
            import redis

            client = current_app.extensions["followup_redis"] = redis.Redis.from_url(
                url, socket_timeout=1, socket_connect_timeout=1)
        client.ping()
        return {"ok": True, "detail": "reachable"}
    except Exception as err:  # noqa: BLE001
        return {"ok": False, "detail": f"not reachable: {type(err).__name__}"}


@blp.route("/api/health", methods=["GET"])
@blp.response(200, s.HealthSchema)
@blp.alt_response(503, schema=s.HealthSchema, description="The database or Redis is not reachable")
@blp.doc(security=[])
def health():
    """Is the service able to work: database and Redis reachability, who fires the timers. No token needed."""
    database, redis_check, timers = services().engine.check_database(), _check_redis(), _check_timers()
    ok = database["ok"] and redis_check["ok"] and timers["ok"]
    return ({"status": "ok" if ok else "unavailable", "database": database, "redis": redis_check,
             "timers": timers}, 200 if ok else 503)


@blp.route("/metrics", methods=["GET"])
@blp.response(200, {"type": "string"}, content_type="text/plain",
              description="Prometheus text exposition format 0.0.4")
@blp.errors(401, 403)
def metrics():
    """Prometheus metrics: instances by status, ready and overdue tasks, pending timers and their lag,
    request latency (supervisors and admins, or anyone with FOLLOWUP_METRICS_PUBLIC=true)."""
    if not current_app.config["FOLLOWUP_METRICS_PUBLIC"]:
        access.require(current_user(), access.METRICS_VIEW)
    stats = services().engine.stats()
    lines = ["# HELP followup_instances Process instances by status.", "# TYPE followup_instances gauge"]
    for status in s.STATUSES:
        lines.append(f'followup_instances{{status="{status}"}} {stats["instances"].get(status, 0)}')
    for name, help_text, value in (
            ("followup_tasks_ready", "Open human tasks.", stats["tasks_ready"]),
            ("followup_tasks_overdue", "Open human tasks past their due time.", stats["tasks_overdue"]),
            ("followup_timers_pending", "Timers waiting to fire.", stats["timers_pending"]),
            ("followup_timer_lag_seconds", "How late the most overdue pending timer is.",
             round(stats["timer_lag_seconds"], 3)),
            ("followup_messages_pending", "Notifications not sent yet (to be tried, maybe again).",
             stats["messages_pending"]),
            ("followup_messages_failed", "Notifications given up on (see GET /api/instances/{id}: messages).",
             stats["messages_failed"])):
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value}"]
    lines += current_app.extensions["followup_latency"].render()
    return Response("\n".join(lines) + "\n", mimetype="text/plain", content_type="text/plain; version=0.0.4")


@blp.route("/api/docs", methods=["GET"])
@blp.response(200, {"type": "string"}, content_type="text/html", description="The API reference as one page")
@blp.doc(security=[])
def docs():
    """The API reference, rendered from the OpenAPI document; works offline (no scripts, no CDN)."""
    api = current_app.extensions["followup_api"]
    return Response(render_docs(api.spec.to_dict()), mimetype="text/html")
