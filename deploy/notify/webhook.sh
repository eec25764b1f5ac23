#!/bin/sh
# webhook.sh: a PATGATE_NOTIFY_CMD for patgate notify.  POSTs one event
# (JSON, read on stdin) to PATGATE_WEBHOOK_URL and fails unless the answer
# is a 2xx, so patgate notify keeps the event and tries again.
#
# Settings (environment): PATGATE_WEBHOOK_URL (required);
# PATGATE_WEBHOOK_AUTH, an Authorization header value to send, if any.
set -eu
url=${PATGATE_WEBHOOK_URL:?webhook.sh: PATGATE_WEBHOOK_URL is not set}
if [ -n "${PATGATE_WEBHOOK_AUTH:-}" ]; then
	code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 -X POST \
	    -H 'Content-Type: application/json' \
	    -H "Authorization: $PATGATE_WEBHOOK_AUTH" --data-binary @- -- "$url")
else
	code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 30 -X POST \
	    -H 'Content-Type: application/json' --data-binary @- -- "$url")
fi
case $code in
2??) exit 0 ;;
*) echo "webhook.sh: $url answered $code" >&2; exit 1 ;;
esac
