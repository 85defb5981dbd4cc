"""The openai Python SDK as a server's sideband, unchanged: `client.realtime.connect(call_id=…)` attaches to a
live WebRTC call, changes its instructions, asks for a response, and watches it to its end.

Usage: sideband.py <base_url> <call_id>. Prints one JSON object of what it saw, with every raw server event it
received (for the caller to check against the schema).
"""

import json
import sys

from openai import OpenAI

from received import Received


def main() -> None:
    base_url, call_id = sys.argv[1], sys.argv[2]
    client = OpenAI(api_key="sk-test-python-sdk", base_url=base_url)
    received = Received()

    with client.realtime.connect(call_id=call_id) as conn:
        conn.session.update(session={"type": "realtime", "instructions": "Greet the caller."})
        updated = received.until(conn, "session.updated")[-1]
        conn.response.create(response={"metadata": {"from": "sideband"}})
        turn = received.until(conn, "output_audio_buffer.stopped")

    done = next(e for e in turn if e["type"] == "response.done")
    print(
        json.dumps(
            {
                "instructions": updated["session"]["instructions"],
                "response_id": done["response"]["id"],
                "metadata": done["response"].get("metadata"),
                "transcript": done["response"]["output"][0]["content"][0]["transcript"],
                "events": received.events,
            }
        )
    )


if __name__ == "__main__":
    main()
