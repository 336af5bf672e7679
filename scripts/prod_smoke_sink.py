"""The production smoke's SMTP server (aiosmtpd, standing in for docker-compose's Mailpit): accepts
every message and appends one JSON line per message to --out: its Message-ID, outbox key, To,
Subject and the time it was accepted (the reply to DATA, for the resend window's measurement).

SMOKE_BREAK=duplicate records the first message twice and SMOKE_BREAK=lose records nothing of it
(both still answer 250): the smoke's exactly-once check must then fail (scripts/prod-smoke.sh).

    python scripts/prod_smoke_sink.py --port 2525 --out var/smoke-mail.jsonl
"""

import argparse
import email
import json
import os
import signal
import threading
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out: str, broken: str):
        self.out, self.broken, self.count = out, broken, 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content)
        line = json.dumps(
            {
                "message_id": message["Message-ID"],
                "outbox": message["X-SLE001-Outbox"],
                "to": message["To"],
                "subject": message["Subject"],
                "accepted_at": time.time(),
            }
        )
        with self.lock:
            self.count += 1
            copies = 1
            if self.count == 1 and self.broken == "duplicate":
                copies = 2
            elif self.count == 1 and self.broken == "lose":
                copies = 0
            with open(self.out, "a") as out:
                out.write((line + "\n") * copies)
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    broken = os.environ.get("SMOKE_BREAK", "")
    controller = Controller(Sink(args.out, broken), hostname="127.0.0.1", port=args.port)
    controller.start()
    print(f"SMTP sink on 127.0.0.1:{args.port} writing {args.out}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
