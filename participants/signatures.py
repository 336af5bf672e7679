"""Electronic signatures in the sense of 21 CFR 11.50 and 11.200: the one place they are taken,
stored, refused and shown.

A signature is taken at the moment of signing from the signer's own password, re-entered then
(`signature_take`, checked with `check_password`: being logged in is not signing). What a signed
record keeps (`SignedRecord`'s fields, 11.50(a)): the printed name (the signer's full name at that
moment, so a later change of the account's name does not rewrite it), the date and time (UTC;
shown in the site's time zone and in UTC, `signature_shown`), the meaning ("eligibility
confirmed", "deviation reviewed") and the signer's account.

A signed record is not changed without a new signature (11.10(e), 11.70): a service that edits
one calls `refuse_unsigned_change` with the fields its call would change.

A wrong password is refused under the password field (`PASSWORD_FIELD`) and the service saves
nothing (it runs `signature_take` inside its transaction, before any write). It is logged without
identifiers here; a dashboard view also counts it like a failed log-in (`record_refusal`: django-
axes, so repeated wrong signatures lock the account out like wrong log-ins), once the service's
transaction has rolled back, and refuses signing while the account is locked out (`may_sign`).

Signing elsewhere (e.g. closing an important deviation): give the model `SignedRecord`'s fields
(inherit it), have the service call `signature_take(by, password, MEANING, now=now)` and store
`signature.values()`, and give the form `SignatureFormPart`.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

logger = logging.getLogger(__name__)

PASSWORD_FIELD = "password"
REFUSED = "signature_refused"  # the ValidationError code of a wrong or missing password
LOCKED = "signature_locked"  # the account is locked out (django-axes): nothing is checked
UNSIGNED_CHANGE = "unsigned_change"
WRONG_PASSWORD = (
    "That is not your password: nothing was signed or saved. Enter the password you log in with "
    "to sign."
)
NO_PASSWORD = "Enter your password to sign."


class SignatureMeaning(models.TextChoices):
    ELIGIBILITY_CONFIRMED = "eligibility_confirmed", "eligibility confirmed"
    DEVIATION_REVIEWED = "deviation_reviewed", "deviation reviewed"


@dataclass(frozen=True)
class Signature:
    """A signature just taken: what the signed record stores (`values()`)."""

    signed_by: object  # the user
    signed_name: str
    signed_at: dt.datetime  # aware, UTC
    signed_meaning: str

    def values(self) -> dict:
        """SignedRecord's fields, e.g. `Model.objects.create(..., **signature.values())`."""
        return {
            "signed_by": self.signed_by,
            "signed_name": self.signed_name,
            "signed_at": self.signed_at,
            "signed_meaning": self.signed_meaning,
        }


class SignedRecord(models.Model):
    """The fields of a signed record (abstract: inherit it). Unsigned while signed_at is empty."""

    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The account that signed (its password re-entered at signing).",
    )
    signed_name = models.CharField(
        "printed name", max_length=150, blank=True, help_text="The signer's full name at signing."
    )
    signed_at = models.DateTimeField(null=True, blank=True, help_text="When it was signed (UTC).")
    signed_meaning = models.CharField(
        "meaning", max_length=40, blank=True, choices=SignatureMeaning.choices
    )

    class Meta:
        abstract = True

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None


def printed_name(user) -> str:
    """The name a signature shows: the account's full name, else its username."""
    return user.get_full_name().strip() or user.get_username()


def signature_take(user, password: str, meaning: str, *, now: dt.datetime | None = None):
    """The signature of `user` with `meaning` at `now`, if `password` is theirs; else a
    ValidationError under PASSWORD_FIELD (code REFUSED). Call it in the service's transaction
    before anything is written, so a refusal saves nothing."""
    if meaning not in SignatureMeaning.values:
        raise ValueError(f"Unknown signature meaning {meaning!r}.")
    if not password:
        raise ValidationError({PASSWORD_FIELD: ValidationError(NO_PASSWORD, code=REFUSED)})
    if not (user.is_active and user.check_password(password)):
        # No username or participant in the line: the account's id is enough to follow it up.
        logger.warning("Signature refused (wrong password): user id %s, %s.", user.pk, meaning)
        raise ValidationError({PASSWORD_FIELD: ValidationError(WRONG_PASSWORD, code=REFUSED)})
    now = now or timezone.now()
    if timezone.is_naive(now):
        raise ValueError("A signature's time must be aware.")
    return Signature(
        signed_by=user,
        signed_name=printed_name(user),
        signed_at=now.astimezone(dt.UTC),
        signed_meaning=meaning,
    )


def refuse_unsigned_change(record, changed, signature: Signature | None) -> None:
    """A signed record's fields `changed` without a new `signature`: refused under each field."""
    changed = list(changed)
    if record is None or not record.is_signed or not changed or signature is not None:
        return
    message = ValidationError(
        f"Signed by {record.signed_name} ({record.get_signed_meaning_display()}) on "
        f"{record.signed_at:%Y-%m-%d %H:%M} UTC: changing it needs a new signature.",
        code=UNSIGNED_CHANGE,
    )
    raise ValidationError({name: [message] for name in changed})


@dataclass(frozen=True)
class SignatureShown:
    name: str
    meaning: str
    site_time: str  # "12 Jan 2026 13:00 EST (site time)"
    utc_time: str  # "12 Jan 2026 18:00 UTC"

    def __str__(self) -> str:
        return f"{self.name}, {self.meaning}, {self.site_time} · {self.utc_time}"


def signature_shown(record, tz) -> SignatureShown | None:
    """How a signed record's signature reads on a page, in the site's zone `tz` and in UTC."""
    if record is None or not record.is_signed:
        return None
    local = record.signed_at.astimezone(tz)
    return SignatureShown(
        name=record.signed_name,
        meaning=record.get_signed_meaning_display(),
        site_time=f"{local:%Y-%m-%d %H:%M} {local.tzname()} (site time)",
        utc_time=f"{record.signed_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC",
    )


class SignatureFormPart(forms.Form):
    """The signing part of a dashboard form: the password, with the meaning shown. Mix it into a
    form (`class CloseForm(SignatureFormPart, ServiceForm)`), set `signature_meaning`, and pass
    `cleaned_data[PASSWORD_FIELD]` to the service."""

    signature_meaning = ""
    password = forms.CharField(
        label="Your password (your signature)",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": NO_PASSWORD},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if PASSWORD_FIELD in self.fields:
            meaning = SignatureMeaning(self.signature_meaning).label
            self.fields[PASSWORD_FIELD].help_text = (
                f"Signing means “{meaning}”. Your printed name, the date and time and this "
                "meaning are kept with the record."
            )

    @property
    def signature_meaning_label(self) -> str:
        return SignatureMeaning(self.signature_meaning).label

    def signature_refused(self) -> bool:
        return PASSWORD_FIELD in self.fields and self.has_error(PASSWORD_FIELD, REFUSED)


def _credentials(user) -> dict:
    return {"username": user.get_username()}


def may_sign(request, form) -> bool:
    """False (with the reason under the password) while the account is locked out (django-axes):
    a locked-out password signs nothing, as it logs in nowhere."""
    if not isinstance(form, SignatureFormPart) or PASSWORD_FIELD not in form.fields:
        return True
    from axes.handlers.proxy import AxesProxyHandler

    if AxesProxyHandler.is_locked(request, _credentials(request.user)):
        form.add_error(
            PASSWORD_FIELD,
            ValidationError(
                "Too many wrong passwords for this account from this address: nothing can be "
                f"signed for {settings.LOGIN_LOCKOUT_MINUTES} minutes. Ask a study manager to "
                "unlock it.",
                code=LOCKED,
            ),
        )
        return False
    return True


def record_refusal(request, form) -> None:
    """A wrong signature password counts like a failed log-in (django-axes: recorded, logged and
    counted towards the lockout). Call it after the service refused, outside its transaction."""
    if isinstance(form, SignatureFormPart) and form.signature_refused():
        from django.contrib.auth.signals import user_login_failed

        user_login_failed.send(
            sender=__name__, credentials=_credentials(request.user), request=request
        )
