import secrets

from django.conf import settings
from django.db import models


def new_feed_key() -> str:
    # 32 random bytes: the key is the only thing protecting the feed, which calendar clients
    # fetch without logging in.
    return secrets.token_urlsafe(32)


class CalendarFeedToken(models.Model):
    """A secret URL under which one user's calendar clients read the visit calendar.

    Revoking sets `revoked_at`; a new key is a new row, so an old URL never comes back to life.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed_tokens"
    )
    key = models.CharField(max_length=64, unique=True, default=new_feed_key, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # At most one live key per user: issuing a new one revokes the old one.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_live_calendar_feed_per_user",
            )
        ]

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "live"
        return f"Calendar feed of {self.user} ({state})"
