from notifications import services
from notifications.management.commands._base import NowCommand


class Command(NowCommand):
    help = "Create today's visit reminders (cancelling stale ones) and send the due outbox emails."

    def handle(self, *args, now=None, no_send=False, **options):
        now = self.parse_now(now)
        result = services.reminders_scan(now=now)
        self.stdout.write(f"Reminders as of {now.isoformat()}: {result}.")
        for reason in result.cancelled_reasons:
            self.stdout.write(f"  cancelled: {reason}")
        if not no_send:
            self.stdout.write(f"Outbox: {services.outbox_deliver_due(now=now)}.")
