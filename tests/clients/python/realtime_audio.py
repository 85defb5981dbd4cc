"""The openai Python SDK's Realtime WebSocket client against a server, unchanged: an audio turn. The script
appends PCM16 24 kHz mono audio it makes itself (silence, a voice-loud tone, silence) in 100 ms pieces, and
`server_vad` finds the speech, commits the buffer and answers.

Usage: realtime_audio.py <base_url> <silence_ms> <speech_ms> <trailing_ms>. Prints one JSON object of what
it saw, with every raw server event it received (for the caller to check against the schema).
"""

import base64
import json
import math
import struct
import sys

from openai import OpenAI

from received import Received

RATE = 24_000


def pcm16(samples):
    return struct.pack(f"<{len(samples)}h", *samples)


def silence(ms):
    return [0] * (RATE * ms // 1000)


def tone(ms):
    """440 Hz at a third of full scale: about -13 dBov, speech to any threshold."""
    n = RATE * ms // 1000
    return [int(math.sin(2 * math.pi * 440 * i / RATE) * 32767 / 3) for i in range(n)]


def main() -> None:
    base_url = sys.argv[1]
    lead, speech, trail = (int(a) for a in sys.argv[2:5])
    client = OpenAI(api_key="sk-test-python-sdk", base_url=base_url)
    received = Received()

    audio = pcm16(silence(lead) + tone(speech) + silence(trail))
    piece = RATE * 2 // 10  # 100 ms of PCM16
    with client.realtime.connect(model="gpt-realtime") as conn:
        received.until(conn, "session.created")
        conn.session.update(
            session={
                "type": "realtime",
                "output_modalities": ["text"],
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": RATE},
                        "turn_detection": {"type": "server_vad"},
                    }
                },
            }
        )
        updated = received.until(conn, "session.updated")[-1]
        for start in range(0, len(audio), piece):
            conn.input_audio_buffer.append(audio=base64.b64encode(audio[start : start + piece]).decode())
        turn = received.until(conn, "response.done")

    def first(event_type):
        return next(e for e in received.events if e["type"] == event_type)

    started = first("input_audio_buffer.speech_started")
    stopped = first("input_audio_buffer.speech_stopped")
    committed = first("input_audio_buffer.committed")
    print(
        json.dumps(
            {
                "turn_detection": updated["session"]["audio"]["input"]["turn_detection"],
                "audio_start_ms": started["audio_start_ms"],
                "audio_end_ms": stopped["audio_end_ms"],
                "same_item": started["item_id"] == stopped["item_id"] == committed["item_id"],
                "response_status": turn[-1]["response"]["status"],
                "answer": turn[-1]["response"]["output"][0]["content"][0]["text"],
                "events": received.events,
            }
        )
    )


if __name__ == "__main__":
    main()
