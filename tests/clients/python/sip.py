"""The openai Python SDK's SIP call-control methods (client.realtime.calls.accept / reject / refer) against a
server, unchanged: each on a call id the server does not know, then on the given (WebRTC) call.

Usage: sip.py <base_url> <call_id>. Prints one JSON object: for each method and call, the status and error code
the SDK raised, or "ok".
"""

import json
import sys

import openai
from openai import OpenAI


def outcome(call) -> object:
    try:
        call()
        return "ok"
    except openai.APIStatusError as e:
        return {"error": type(e).__name__, "status": e.status_code, "code": e.code, "param": e.param}


def main() -> None:
    base_url, call_id = sys.argv[1], sys.argv[2]
    calls = OpenAI(api_key="sk-test-python-sdk", base_url=base_url).realtime.calls
    got = {}
    for name, target in [("unknown", "rtc_00000000000000000000000000000000"), ("webrtc", call_id)]:
        got[name] = {
            "accept": outcome(lambda: calls.accept(target, type="realtime", model="gpt-realtime", instructions="Hi")),
            "reject": outcome(lambda: calls.reject(target, status_code=486)),
            "refer": outcome(lambda: calls.refer(target, target_uri="tel:+14155550123")),
        }
    print(json.dumps(got))


if __name__ == "__main__":
    main()
