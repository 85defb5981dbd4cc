"""The openai Python SDK's REST surface of the Realtime API against a server, unchanged: mint a client secret,
start a WebRTC call with the unified interface (multipart SDP), hang it up, and hang it up again.

Usage: rest.py <base_url> <offer.sdp>. Prints one JSON object of what it saw.
"""

import json
import os
import sys

import openai
from openai import OpenAI


def main() -> None:
    base_url, offer_path = sys.argv[1], sys.argv[2]
    client = OpenAI(api_key=os.environ.get("TEST_CLIENT_API_KEY", "sk-test-python-sdk"), base_url=base_url)

    secret = client.realtime.client_secrets.create(
        session={"type": "realtime", "instructions": "Be brief.", "audio": {"output": {"voice": "marin"}}},
        expires_after={"anchor": "created_at", "seconds": 120},
    )

    with open(offer_path, encoding="utf-8") as f:
        offer = f.read()
    raw = client.realtime.calls.with_raw_response.create(
        sdp=offer, session={"type": "realtime", "model": "gpt-realtime"}
    )
    location = raw.headers.get("location", "")
    call_id = location.rsplit("/", 1)[-1]
    answer = raw.parse().content.decode()

    client.realtime.calls.hangup(call_id)
    try:
        client.realtime.calls.hangup(call_id)
        second = "ok"
    except openai.NotFoundError as e:
        second = {"status": e.status_code, "code": e.code}

    print(
        json.dumps(
            {
                "secret_prefix": secret.value[:3],
                "expires_at": secret.expires_at,
                "instructions": secret.session.instructions,
                "voice": secret.session.audio.output.voice,
                "status": raw.status_code,
                "content_type": raw.headers.get("content-type"),
                "call_id": call_id,
                "answer_starts": answer[:4],
                "second_hangup": second,
            }
        )
    )


if __name__ == "__main__":
    main()
