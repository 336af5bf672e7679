from notifications import services
from notifications.management.commands._base import NowCommand


class Command(NowCommand):
    help = "Flag overdue safety assessments, escalate old flags, and send the due outbox emails."

    def handle(self, *args, now=None, no_send=False, **options):
        now = self.parse_now(now)
        result = services.overdue_scan(now=now)
        self.stdout.write(f"Overdue scan as of {now.isoformat()}: {result}.")
        if not no_send:
            self.stdout.write(f"Outbox: {services.outbox_deliver_due(now=now)}.")
