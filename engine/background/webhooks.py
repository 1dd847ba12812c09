"""Delivering `notify` messages to chat robots: WeCom (企业微信) and DingTalk (钉钉) group robots, or any
URL that takes a JSON POST.

Channels are configured per deployment, never in diagrams (a robot URL is a secret):
FOLLOWUP_CHANNELS='{"sales-east": {"kind": "wecom", "url": "https://…/webhook/send?key=…"},
                    "leads": {"kind": "dingtalk", "url": "https://…/robot/send?access_token=…", "secret": "SEC…"}}'
or FOLLOWUP_CHANNELS_FILE pointing at a JSON file of the same shape. Kind `log` writes the message as a
JSON log line instead (no URL); a channel named `*` takes the messages of every channel not named.
"""
import base64
import hashlib
import hmac
import json
import logging
import os
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field


_log = logging.getLogger("followup.notify")


class DeliveryError(Exception):
    pass


@dataclass(frozen=True)
class Channel:
    kind: str  # wecom | dingtalk | webhook
    url: str
    secret: str | None = None
    mentions: tuple = field(default_factory=tuple)


def load_channels(environ=None) -> dict[str, Channel]:
    env = os.environ if environ is None else environ
    raw = env.get("FOLLOWUP_CHANNELS")
    if not raw and env.get("FOLLOWUP_CHANNELS_FILE"):
        with open(env["FOLLOWUP_CHANNELS_FILE"], encoding="utf-8") as handle:
            raw = handle.read()
    channels = {}
    for name, spec in json.loads(raw or "{}").items():
        kind = spec.get("kind", "webhook")
        if kind not in ("wecom", "dingtalk", "webhook", "log"):
            raise ValueError(f"channel '{name}': unknown kind '{kind}' (wecom, dingtalk, webhook or log)")
        channels[name] = Channel(kind, spec.get("url", ""), spec.get("secret"), tuple(spec.get("mentions", ())))
    return channels


def _body(channel: Channel, text, mentions):
    mentions = list(channel.mentions) + list(mentions or [])
    if channel.kind == "wecom":
        return {"msgtype": "text", "text": {"content": text, "mentioned_mobile_list": mentions}}
    if channel.kind == "dingtalk":
        return {"msgtype": "text", "text": {"content": text}, "at": {"atMobiles": mentions, "isAtAll": False}}
    return {"text": text, "mentions": mentions}


def dingtalk_signed_url(url, secret, now_ms=None):
    """DingTalk's 加签: timestamp and HMAC-SHA256(secret, "timestamp\\nsecret"), base64, URL-encoded."""
    timestamp = str(now_ms if now_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"


def post(channel: Channel, text, mentions=None, timeout=10.0) -> dict:
    """POST one message; raise DeliveryError unless the robot answers success (errcode 0)."""
    url = channel.url
    if channel.kind == "dingtalk" and channel.secret:
        url = dingtalk_signed_url(url, channel.secret)
    request = urllib.request.Request(url, data=json.dumps(_body(channel, text, mentions), ensure_ascii=False)
                                     .encode("utf-8"), headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured URLs only
            raw = response.read()
    except OSError as err:  # URLError, HTTPError, timeouts
        raise DeliveryError(f"{channel.kind} robot: {err}") from None
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        answer = {}
    if channel.kind in ("wecom", "dingtalk") and answer.get("errcode", 0) != 0:
        raise DeliveryError(f"{channel.kind} robot refused the message: {answer.get('errcode')} "
                            f"{answer.get('errmsg', '')}".strip())
    return answer


def sender(channels: dict[str, Channel]):
    """`send(topic, payload)` for `outbox.deliver`."""
    def send(topic, payload):
        if topic != "notify":
            raise DeliveryError(f"no delivery for topic '{topic}'")
        channel = channels.get(payload.get("channel")) or channels.get("*")
        if channel is None:
            raise DeliveryError(f"no channel named '{payload.get('channel')}' is configured (FOLLOWUP_CHANNELS)")
        if channel.kind == "log":  # the message as a log line: the demo's default, and for trying things out
            _log.info(json.dumps({"event": "notification", "channel": payload.get("channel"),
                                  "text": payload["text"]}, ensure_ascii=False))
            return
        post(channel, payload["text"], payload.get("mentions"))
    return send
