#!/usr/bin/env bash
# The README's curl session ("HTTP API"), as a script that CI runs (tests/test_tour.py), so the README
# cannot drift from what works: every `curl` line of the README's session appears here verbatim, each
# preceded by `expect CODE;`, the HTTP status it must answer. Run it from the repository's root on an empty
# data directory (embedded default: SQLite, timers in-process):
#
#     FOLLOWUP_DATA_DIR=$(mktemp -d) PORT=8765 bash docs/tour.sh
#
# Needs curl and jq; `followup` on PATH (or FOLLOWUP=/path/to/followup).
set -euo pipefail
cd "$(dirname "$0")/.."
FOLLOWUP=${FOLLOWUP:-$(command -v followup)}
followup() {  # `followup serve ... &` runs in a subshell: exec, so that $! is the server itself
  if [ "$1" = serve ]; then exec "$FOLLOWUP" "$@"; else "$FOLLOWUP" "$@"; fi
}
PORT=${PORT:-8000}
WORK=$(mktemp -d)
EXPECTED=200
expect() { EXPECTED=$1; }
curl() {  # the real curl, then a check of the status; prints the body like `curl -s` does
  local out code
  out=$(command curl -sS -w '\n%{http_code}' "$@")
  code=${out##*$'\n'}
  if [ "$code" != "$EXPECTED" ]; then
    echo "tour: expected $EXPECTED, got $code from: curl $*" >&2
    echo "${out%$'\n'*}" >&2
    exit 1
  fi
  printf '%s\n' "${out%$'\n'*}"
}

printf '<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">\n<bpmn:process id="p">\n' > "$WORK/broken.bpmn"
cd "$WORK" && ln -s "$OLDPWD/tests" tests

# ---- the README's session -------------------------------------------------------------------------------
followup migrate
DESIGNER=$(followup user add dora --role designer)
AGENT=$(followup user add li --role agent --groups sales-east)
WANG=$(followup user add wang --role agent --groups sales-east)
BOSS=$(followup user add boss --role supervisor --groups sales-east,supervisors)
followup serve --port $PORT &        # development server; production: see below
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
API=http://127.0.0.1:$PORT
for _ in $(seq 100); do command curl -s -o /dev/null "$API/api/health" && break; sleep 0.1; done

# Designer
expect 201; curl -s -H "Authorization: Bearer $DESIGNER" -F files=@tests/bpmn/first_contact.bpmn $API/api/deployments
expect 400; curl -s -H "Authorization: Bearer $DESIGNER" -F files=@broken.bpmn $API/api/deployments/validate
expect 200; curl -s -H "Authorization: Bearer $DESIGNER" $API/api/definitions/first_contact

# Agent
expect 201; ID=$(curl -s -H "Authorization: Bearer $AGENT" -H 'Content-Type: application/json' \
  -d '{"process_key":"first_contact","business_key":"C-1001","variables":{"owner":"li"}}' $API/api/instances | jq -r .id)
expect 200; TASK=$(curl -s -H "Authorization: Bearer $AGENT" "$API/api/tasks?scope=unassigned" | jq -r '.items[0].id')
expect 200; curl -s -X POST -H "Authorization: Bearer $AGENT" $API/api/tasks/$TASK/claim        # 409 if someone else holds it
expect 422; curl -s -H "Authorization: Bearer $AGENT" -H 'Content-Type: application/json' \
  -d '{"variables":{"outcome":"maybe"}}' $API/api/tasks/$TASK/complete
expect 200; NEXT=$(curl -s -H "Authorization: Bearer $AGENT" -H 'Content-Type: application/json' \
  -d '{"variables":{"outcome":"reached","note":"周五回电"}}' $API/api/tasks/$TASK/complete | jq -r '.next_tasks[0].id')

# Supervisor
expect 200; curl -s -H "Authorization: Bearer $BOSS" "$API/api/tasks?overdue=true"
expect 200; curl -s -H "Authorization: Bearer $BOSS" -H 'Content-Type: application/json' -d '{"user":"wang"}' $API/api/tasks/$NEXT/assign
expect 200; curl -s -H "Authorization: Bearer $BOSS" "$API/api/instances?status=error&process_key=first_contact"
expect 200; curl -s -H "Authorization: Bearer $BOSS" $API/api/instances/$ID             # variables, tasks, timers, active_element_ids, incident, messages
expect 200; curl -s -H "Authorization: Bearer $BOSS" $API/api/instances/$ID/events      # the audit trail
expect 409; curl -s -X POST -H "Authorization: Bearer $BOSS" $API/api/instances/$ID/retry      # 409: no incident to retry
expect 404; curl -s -H "Authorization: Bearer $BOSS" -H 'Content-Type: application/json' \
  -d '{"name":"customer_replied","business_key":"C-1001","variables":{"reply":"好的"}}' $API/api/messages   # 404 if nothing waits
expect 200; curl -s -H "Authorization: Bearer $BOSS" "$API/api/reports/sla?team=sales-east"
expect 200; curl -s -H "Authorization: Bearer $BOSS" $API/metrics

# The task now belongs to wang, who completes it
expect 200; curl -s -H "Authorization: Bearer $WANG" -H 'Content-Type: application/json' \
  -d '{"variables":{"budget":50000}}' $API/api/tasks/$NEXT/complete
echo "tour: every step answered as the README says"
