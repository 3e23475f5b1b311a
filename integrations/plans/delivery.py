"""Handing a recorded plan message over: the ``StepRun`` is the outbox row
(``integrations.outbox``). A run is recorded, rendered, before anything is sent; each
attempt claims it (one in flight), re-checks the lead's opt-outs and consent (they may
have changed since the step ran), sends, and records the result. A crash after the run
was recorded resumes the send (the sweep); a text the provider already took is not sent
again. The one window left is a crash after the provider or SMTP server took a message
and before its result was written: that message may go twice (at least once)."""

import logging
import smtplib
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from integrations.http_delivery import DeliveryError, TransientDeliveryError
from integrations.outbox import Outbox, Outcome
from integrations.plans import rules
from integrations.plans.models import Channel, Consent, RunState, StepKind, StepRun
from integrations.plans.reply_address import reply_address
from integrations.sms import client as sms_client
from integrations.sms import services as sms
from integrations.sms.models import SmsMessage

logger = logging.getLogger(__name__)

SMS_PURPOSE = "plans"
FINISHED = (RunState.SENT, RunState.DONE, RunState.SKIPPED)

OUTBOX = Outbox(
    model=StepRun,
    label="plan message",
    settings_prefix="PLANS",
    pending=RunState.PENDING,
    failed=RunState.RETRYING,
    dead=RunState.FAILED,
    related=("enrolment__lead__contact", "sms_message"),
)


def due(now=None) -> QuerySet[StepRun]:
    now = now or timezone.now()
    return StepRun.objects.filter(status__in=[RunState.PENDING, RunState.RETRYING], next_attempt_at__lte=now).order_by(
        "next_attempt_at", "pk"
    )


@contextmanager
def shared_mail_connection():
    """One connection to the mail server for many messages (opened at the first send;
    after a failure the next message opens a fresh one)."""
    connection = get_connection()
    try:
        yield connection
    finally:
        connection.close()


def deliver(run_id: int, *, connection=None) -> Outcome:
    """One attempt at sending a recorded plan message (over ``connection`` when given);
    returns what it came to."""
    claimed = OUTBOX.claim(run_id, is_done=lambda row: row.status in FINISHED)
    if isinstance(claimed, Outcome):
        return claimed
    lead = claimed.enrolment.lead
    if claimed.channel in (Channel.EMAIL, Channel.TEXT):
        consents = {consent.channel: consent for consent in Consent.objects.filter(lead=lead)}
        refusal = rules.consent_refusal(lead, claimed.channel, consents)
        if refusal:
            return _finish(claimed, RunState.SKIPPED, reason=f"At send time: {refusal}")
    try:
        if claimed.kind == StepKind.SEND_TEXT:
            _send_text(claimed)
        else:
            reply_to = reply_address(lead.public_id) if claimed.channel else None
            _send_email(claimed, reply_to=reply_to, connection=connection)
    except DeliveryError as error:
        return OUTBOX.record_failure(claimed, error, reason=str(error)[:300])
    return _finish(claimed, RunState.SENT)


def deliver_many(runs: list[StepRun], *, connection, sms_session=None, now=None) -> int:
    """Send messages a chunk just recorded (``runs``: its in-memory rows, their enrolment,
    lead and contact attached): the emails and texts are claimed in one statement, which
    also reads the leads' opt-outs as they are now; their consents are re-read in one
    query; a text in the lead's quiet hours (as at ``now``, default the clock's) is put off
    to the morning; the emails go over ``connection``, the texts over one keep-alive HTTP
    session (``sms_session``, else one for this call), a few at a time, each linked to its
    ``SmsMessage`` before it is handed over (so a retry never sends one the provider took);
    the results are written in one statement per outcome. Anything else (another kind, a
    run another attempt holds, a text tried before) goes through ``deliver`` one at a time.
    Returns how many were sent. The claim and the results follow ``deliver``'s: a result is
    written only while the claim still stands; a lost worker's runs are the sweep's."""
    if not runs:
        return 0
    started = timezone.now()
    until = OUTBOX.requeue_time(started)
    bulk = {run.pk: run for run in runs if run.kind in (StepKind.SEND_EMAIL, StepKind.SEND_TEXT)}
    with transaction.atomic():
        taken = {
            pk: (attempts, email_opt_out, sms_opt_out)
            for pk, attempts, email_opt_out, sms_opt_out in StepRun.objects.select_for_update(
                skip_locked=True, of=("self",)
            )
            .filter(pk__in=list(bulk), status=RunState.PENDING, attempts__lt=OUTBOX.setting("MAX_ATTEMPTS"))
            .filter(sms_message__isnull=True)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=started))
            .order_by("pk")
            .values_list(
                "pk", "attempts", "enrolment__lead__contact__email_opt_out", "enrolment__lead__contact__sms_opt_out"
            )
        }
        StepRun.objects.filter(pk__in=list(taken)).update(
            attempts=F("attempts") + 1,
            last_attempt_at=started,
            claimed_until=until,
            next_attempt_at=until,
            updated_at=started,
        )
    sent = sum(deliver(run.pk, connection=connection) == Outcome.SENT for run in runs if run.pk not in taken)
    rows = [bulk[pk] for pk in sorted(taken)]
    consents: dict[int, dict] = defaultdict(dict)
    for consent in Consent.objects.filter(lead_id__in={row.enrolment.lead_id for row in rows}):
        consents[consent.lead_id][consent.channel] = consent
    done: dict[tuple[str, str], list[int]] = defaultdict(list)
    put_off: dict[datetime, list[int]] = defaultdict(list)
    texts: list[StepRun] = []
    for row in rows:
        attempts, email_opt_out, sms_opt_out = taken[row.pk]
        row.attempts, row.last_attempt_at, row.claimed_until, row.next_attempt_at = attempts + 1, started, until, until
        lead = row.enrolment.lead
        lead.contact.email_opt_out, lead.contact.sms_opt_out = email_opt_out, sms_opt_out  # as now, not as read
        refusal = rules.consent_refusal(lead, row.channel, consents[lead.pk])
        if refusal:
            done[(RunState.SKIPPED, f"At send time: {refusal}"[:300])].append(row.pk)
        elif row.channel == Channel.TEXT:
            if later := rules.quiet_until(now or started, rules.lead_zone(lead)):
                put_off[later].append(row.pk)
            else:
                texts.append(row)
        else:
            try:
                _send_email(row, reply_to=reply_address(lead.public_id), connection=connection)
            except DeliveryError as error:
                OUTBOX.record_failure(row, error, reason=str(error)[:300])
                continue
            done[(RunState.SENT, "")].append(row.pk)
    done[(RunState.SENT, "")].extend(_send_texts(texts, session=sms_session))
    finished_at = timezone.now()
    for (status, reason), ids in done.items():
        StepRun.objects.filter(pk__in=ids, claimed_until=until).update(
            status=status,
            reason=reason,
            finished_at=finished_at,
            next_attempt_at=None,
            claimed_until=None,
            updated_at=finished_at,
        )
    for later, ids in put_off.items():  # not an attempt: given back, due at the morning's opening
        StepRun.objects.filter(pk__in=ids, claimed_until=until).update(
            attempts=F("attempts") - 1, next_attempt_at=later, claimed_until=None, updated_at=finished_at
        )
    return sent + len(done.get((RunState.SENT, ""), ()))


@contextmanager
def shared_sms_session():
    """One keep-alive HTTP session to the SMS provider for many texts."""
    session = sms_client.new_session(connections=settings.PLANS_SMS_THREADS)
    try:
        yield session
    finally:
        session.close()


def _send_texts(rows: list[StepRun], *, session=None) -> list[int]:
    """Hand claimed texts to the provider: their ``SmsMessage`` rows made and linked to the
    runs in two statements (committed before anything is sent), then sent over
    ``session``; returns the runs the provider took (a refusal is recorded as ``deliver``
    records it)."""
    if not rows:
        return []
    with transaction.atomic():
        messages = SmsMessage.objects.bulk_create(
            [SmsMessage(purpose=SMS_PURPOSE, to=row.recipient, body=row.text) for row in rows]
        )
        for row, message in zip(rows, messages, strict=True):
            row.sms_message = message
        StepRun.objects.bulk_update(rows, ["sms_message"])
    if session is None:
        with shared_sms_session() as own:
            answers = sms.hand_many_to_provider(messages, session=own, threads=settings.PLANS_SMS_THREADS)
    else:
        answers = sms.hand_many_to_provider(messages, session=session, threads=settings.PLANS_SMS_THREADS)
    taken = []
    for row, answer in zip(rows, answers, strict=True):
        if isinstance(answer, DeliveryError):
            OUTBOX.record_failure(row, answer, reason=str(answer)[:300])
        else:
            taken.append(row.pk)
    return taken


def _finish(claimed: StepRun, status: str, *, reason: str = "") -> Outcome:
    with OUTBOX.settle(claimed) as row:
        if row is not None:
            row.status, row.reason, row.finished_at, row.next_attempt_at = status, reason[:300], timezone.now(), None
    return Outcome.SENT if status == RunState.SENT else Outcome.NOTHING_TO_SEND


def _send_email(run: StepRun, *, reply_to: str | None, connection=None) -> None:
    headers = {}
    if run.channel == Channel.EMAIL:
        link = _unsubscribe_link(run)
        if link:
            headers["List-Unsubscribe"] = f"<{link}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    headers["X-Plan-Step-Run"] = str(run.pk)
    headers["X-Plan-Enrolment"] = str(run.enrolment_id)
    send_email(
        subject=run.subject,
        text=run.text,
        html=run.html,
        to=run.recipient,
        reply_to=reply_to,
        headers=headers,
        connection=connection,
    )


def send_email(
    *, subject: str, text: str, html: str, to: str, reply_to: str | None, headers: dict, connection=None
) -> None:
    """Hand one email (text, and HTML when given) to the mail server, from
    ``DEFAULT_FROM_EMAIL``, over ``connection`` when given (kept open for the next one):
    every automated email to a lead goes this way (plans, property alerts). Raises
    DeliveryError when the server refused it, TransientDeliveryError when it could not be
    reached (a broken shared connection is closed: the next message opens a new one)."""
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=[to],
        reply_to=[reply_to] if reply_to else None,
        headers=headers,
        connection=connection,
    )
    if html:
        message.attach_alternative(html, "text/html")
    try:
        if connection is not None:
            connection.open()  # kept open for the next message (send() would open and close it each time)
        message.send()
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as error:
        raise DeliveryError(f"The mail server refused it: {error}") from error
    except (smtplib.SMTPException, OSError) as error:
        if connection is not None:
            connection.close()  # a broken shared connection: the next message opens a new one
        raise TransientDeliveryError(f"Could not reach the mail server: {error}") from error


def _unsubscribe_link(run: StepRun) -> str:
    if getattr(run, "unsubscribe_link", ""):  # the link its body was rendered with (batch), not signed again
        return run.unsubscribe_link
    from integrations.workflows.unsubscribe import unsubscribe_url

    return unsubscribe_url(lead=run.enrolment.lead, channel="email")


def _send_text(run: StepRun) -> None:
    message = run.sms_message
    if message is not None and message.provider_sid:
        return  # an earlier attempt handed it over, then stopped before recording it
    if message is None:
        message = SmsMessage.objects.create(purpose=SMS_PURPOSE, to=run.recipient, body=run.text)
        StepRun.objects.filter(pk=run.pk).update(sms_message=message)
    sms.hand_to_provider(message)
