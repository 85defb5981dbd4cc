"""The openai Python SDK as a SIP app's server, unchanged, against incoming calls the emulator injects.

A small webhook receiver (http.server in a thread) gets each `realtime.call.incoming`; `client.webhooks.unwrap()`
verifies it with the secret. Then, one call after another:

* accept: `client.realtime.calls.accept(...)`, a sideband `client.realtime.connect(call_id=…)` asks for a
  response, a DTMF key is pressed (the emulator-only endpoint), `calls.hangup`, and the sideband closes;
* reject: `calls.reject(status_code=486)`, after which the call is gone;
* refer: accepted, watched by a sideband, `calls.refer(target_uri=…)` ends it;
* refused: a tampered body, a delivery signed too long ago, the wrong secret (the SDK must reject each), and
  bodies the emulator must refuse.

Usage: sip_incoming.py <base_url> <webhook_secret>. Prints one JSON object of what it saw, with every raw server
event it received (for the caller to check against the schema).
"""

import base64
import hashlib
import hmac
import http.server
import json
import queue
import sys
import threading
import time

import openai
import websockets
from openai import OpenAI

from received import Received

deliveries: "queue.Queue[tuple[dict, str]]" = queue.Queue()


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"])).decode()
        deliveries.put(({k: v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def sign(secret: str, webhook_id: str, timestamp: int, body: str) -> str:
    """The Standard Webhooks signature, written here from the scheme (to forge an old delivery)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def outcome(call) -> object:
    try:
        call()
        return "ok"
    except openai.APIStatusError as e:
        return {"status": e.status_code, "code": e.code, "param": e.param}
    except openai.InvalidWebhookSignatureError as e:
        return {"invalid_signature": str(e)}


def main() -> None:
    base_url, secret = sys.argv[1], sys.argv[2]
    client = OpenAI(api_key="sk-test-python-sdk", base_url=base_url)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    webhook_url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    received = Received()
    got = {}

    def ring() -> tuple[str, dict, str]:
        """Injects a call; its id (from the verified webhook), the headers and body as delivered."""
        answer = client.post(
            "/emulator/sip/calls",
            cast_to=object,
            body={"webhook_url": webhook_url, "from": "sip:+15550001111@carrier.example"},
        )
        assert answer["webhook"]["status"] == 200, answer
        headers, body = deliveries.get(timeout=20)
        event = client.webhooks.unwrap(body, headers, secret=secret)
        assert type(event).__name__ == "RealtimeCallIncomingWebhookEvent", type(event)
        assert event.type == "realtime.call.incoming"
        assert event.data.call_id == answer["call_id"]
        return event.data.call_id, headers, body

    def close_code(conn) -> object:
        """Reads to the end of the socket: the close code the server sent."""
        try:
            while True:
                received.events.append(json.loads(conn.recv_bytes()))
        except websockets.exceptions.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None

    # Accept, a sideband turn, a keypad press, hangup.
    call_id, headers, body = ring()
    got["unwrapped_call_id"] = call_id
    got["sip_headers"] = json.loads(body)["data"]["sip_headers"]
    tampered = body.replace(call_id, call_id[:-1] + ("0" if call_id[-1] != "0" else "1"))
    old = int(time.time()) - 600
    old_headers = dict(headers)
    old_headers["webhook-timestamp"] = str(old)
    old_headers["webhook-signature"] = sign(secret, headers["webhook-id"], old, body)
    wrong_secret = "whsec_" + base64.b64encode(b"not-the-secret").decode()
    got["refused_deliveries"] = {
        "tampered": outcome(lambda: client.webhooks.unwrap(tampered, headers, secret=secret)),
        "old": outcome(lambda: client.webhooks.unwrap(body, old_headers, secret=secret)),
        "wrong_secret": outcome(lambda: client.webhooks.unwrap(body, headers, secret=wrong_secret)),
    }
    got["bad_accept"] = outcome(
        lambda: client.realtime.calls.accept(
            call_id,
            type="realtime",
            model="gpt-realtime",
            audio={"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 500}}},
        )
    )
    client.realtime.calls.accept(call_id, type="realtime", model="gpt-realtime", instructions="Answer the phone.")
    got["second_accept"] = outcome(lambda: client.realtime.calls.accept(call_id, type="realtime"))
    with client.realtime.connect(call_id=call_id) as conn:
        conn.session.update(session={"type": "realtime"})
        got["instructions"] = received.until(conn, "session.updated")[-1]["session"]["instructions"]
        conn.response.create()
        got["transcript"] = received.until(conn, "response.done")[-1]["response"]["output"][0]["content"][0]["transcript"]
        received.until(conn, "output_audio_buffer.stopped")
        client.post(f"/emulator/sip/calls/{call_id}/dtmf", cast_to=object, body={"digit": "7"})
        got["dtmf"] = received.until(conn, "input_audio_buffer.dtmf_event_received")[-1]["event"]
        client.realtime.calls.hangup(call_id)
        got["hangup_close"] = close_code(conn)
    got["after_hangup"] = outcome(lambda: client.realtime.calls.hangup(call_id))

    # Reject.
    call_id, _, _ = ring()
    got["bad_reject"] = outcome(lambda: client.realtime.calls.reject(call_id, status_code=200))
    client.realtime.calls.reject(call_id, status_code=486)
    got["after_reject"] = outcome(lambda: client.realtime.calls.accept(call_id, type="realtime"))

    # Refer.
    call_id, _, _ = ring()
    got["refer_ringing"] = outcome(lambda: client.realtime.calls.refer(call_id, target_uri="tel:+14155550123"))
    client.realtime.calls.accept(call_id, type="realtime", model="gpt-realtime")
    with client.realtime.connect(call_id=call_id) as conn:
        conn.session.update(session={"type": "realtime"})
        received.until(conn, "session.updated")
        got["bad_refer"] = outcome(lambda: client.realtime.calls.refer(call_id, target_uri="mailto:a@b.example"))
        client.realtime.calls.refer(call_id, target_uri="tel:+14155550123")
        got["refer_close"] = close_code(conn)
    got["after_refer"] = outcome(lambda: client.realtime.calls.refer(call_id, target_uri="tel:+14155550123"))

    server.shutdown()
    got["events"] = received.events
    print(json.dumps(got))


if __name__ == "__main__":
    main()
