#!/usr/bin/env python3
"""An example receiver of Keyward's webhooks, in Python 3 with the standard library only.

It verifies each request's Standard Webhooks signature, answers 204 to a message it accepts
and 400 to one it does not, and prints the event's type and data, never a secret.

    KEYWARD_WEBHOOK_SECRET=whsec_... python3 server.py --addr 127.0.0.1:8090

The verification is `verify` below, written to the spec (https://www.standardwebhooks.com/)
because the official package could not be installed where this example was made. With the
official package installed (`pip install standardwebhooks`, see requirements.txt), replace
`verify` and its call by:

    from standardwebhooks import Webhook, WebhookVerificationError
    wh = Webhook(os.environ["KEYWARD_WEBHOOK_SECRET"])
    event = wh.verify(body, dict(self.headers))   # raises WebhookVerificationError
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# How far a message's timestamp may be from our clock, either way: the spec's five minutes.
TOLERANCE_SECONDS = 5 * 60

# Keyward's events are small; bound what is read before verifying.
MAX_BODY = 1 << 20

# The data fields printed only as "[redacted]": a rotated key's new secret, and a key's
# plaintext.
SENSITIVE = {"secret", "key"}

SECRET_PREFIX = "whsec_"


class WebhookVerificationError(Exception):
    pass


def parse_secret(secret):
    """Returns the HMAC key of a "whsec_<base64>" secret (padded or not)."""
    if secret.startswith(SECRET_PREFIX):
        secret = secret[len(SECRET_PREFIX):]
    try:
        key = base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("what follows whsec_ is not standard base64") from None
    if not key:
        raise ValueError("the secret is empty")
    return key


def verify(key, body, headers, now=None):
    """Verifies a Standard Webhooks message, or raises WebhookVerificationError.

    key is the secret's HMAC key, body the exact bytes received, headers the request's
    headers (looked up case-insensitively). The three headers must be present, the timestamp
    within five minutes of now either way, and one of webhook-signature's space-separated
    "v1,<base64>" entries must be HMAC-SHA256(key, id + "." + timestamp + "." + body),
    compared in constant time. During a secret rotation Keyward sends two entries; either
    may be the one made with our secret. Entries of other versions are passed over.
    """
    msg_id = headers.get("webhook-id")
    msg_timestamp = headers.get("webhook-timestamp")
    msg_signature = headers.get("webhook-signature")
    if not (msg_id and msg_timestamp and msg_signature):
        raise WebhookVerificationError("Missing required headers")

    if not re.fullmatch(r"[+-]?[0-9]+", msg_timestamp):
        raise WebhookVerificationError("Invalid Signature Headers")
    timestamp = int(msg_timestamp)
    now = time.time() if now is None else now
    if now - timestamp > TOLERANCE_SECONDS:
        raise WebhookVerificationError("Message timestamp too old")
    if timestamp - now > TOLERANCE_SECONDS:
        raise WebhookVerificationError("Message timestamp too new")

    # The signed content uses the number as the sender writes it, as the official libraries do.
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    expected = hmac.new(key, signed, hashlib.sha256).digest()
    for entry in msg_signature.split(" "):
        version, sep, encoded = entry.partition(",")
        if not sep or version != "v1":
            continue
        try:
            got = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(got, expected):
            return
    raise WebhookVerificationError("No matching signature found")


def redact(v):
    if isinstance(v, dict):
        return {k: "[redacted]" if k in SENSITIVE else redact(e) for k, e in v.items()}
    if isinstance(v, list):
        return [redact(e) for e in v]
    return v


class Handler(BaseHTTPRequestHandler):
    key = b""

    def answer(self, status, text=""):
        self.send_response(status)
        if status == 204:
            self.end_headers()
            return
        data = (text + "\n").encode()
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if status == 405:
            self.send_header("Allow", "POST")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self.answer(411, "Content-Length required")
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            return self.answer(413, "body too large")
        # Verify the exact bytes received, not a re-serialized JSON: the signature is over them.
        body = self.rfile.read(length)
        msg_id = self.headers.get("webhook-id", "")
        try:
            verify(self.key, body, self.headers)
        except WebhookVerificationError as err:
            print(f"rejected {json.dumps(msg_id)}: {err}")
            return self.answer(400, "invalid signature")
        try:
            event = json.loads(body)
            if not isinstance(event, dict):
                raise ValueError("not a JSON object")
        except ValueError as err:
            print(f"rejected {json.dumps(msg_id)}: signed, but not an event: {err}")
            return self.answer(400, "not a JSON event")

        data = event.get("data")
        if not isinstance(data, dict):
            data = {}
        print(f"event {event.get('type')} at {event.get('timestamp')} (webhook-id {msg_id})")
        if event.get("type") == "api_key.rotated" and isinstance(data.get("secret"), str):
            print(f"  new secret received ({len(data['secret'])} chars)")
            # In real use, store it now, before answering, in your secret manager (Vault, AWS
            # Secrets Manager, a Kubernetes Secret ...), e.g.
            #   secrets.put(f"keyward/{data['id']}", data["secret"])
            # and answer 5xx if that fails, so that Keyward sends the event again.
        print(f"  data: {json.dumps(redact(data), separators=(',', ':'), ensure_ascii=False)}")
        self.answer(204)

    def do_GET(self):
        self.answer(405, "POST only")

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def log_message(self, format, *args):
        pass  # the default logs every request to stderr; we print what matters above


def main():
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description="An example receiver of Keyward's webhooks.")
    parser.add_argument("--addr", default=os.environ.get("KEYWARD_WEBHOOK_ADDR") or "127.0.0.1:8090",
                        help="listen address, HOST:PORT (env KEYWARD_WEBHOOK_ADDR)")
    args = parser.parse_args()

    secret = os.environ.get("KEYWARD_WEBHOOK_SECRET")
    if not secret:
        sys.exit("set KEYWARD_WEBHOOK_SECRET to the endpoint's signing secret (whsec_...)")
    try:
        Handler.key = parse_secret(secret)
    except ValueError as err:
        sys.exit(f"KEYWARD_WEBHOOK_SECRET is not a webhook secret: {err}")

    host, _, port = args.addr.rpartition(":")
    server = ThreadingHTTPServer((host.strip("[]"), int(port)), Handler)
    shown_host, shown_port = server.server_address[:2]
    print(f"listening on http://{shown_host}:{shown_port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
