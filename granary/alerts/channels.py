"""How an alert reaches people: one sender per channel name, as the tenant YAML's `contact:` and
alerts.yaml's `province:` name them. Another channel is one class here and one entry in CHANNELS
(and a field in core.tenants.Contacts)."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import requests

from granary.alerts.settings import alert_settings, alerts_file

TIMEOUT_S = 10


@dataclass(frozen=True)
class Alert:
    """One message: what happened to which bank's day (bank "_province" for the digest)."""

    kind: str  # failure | quality | deadline_warning | deadline_missed | digest
    tenant: str
    bank_zh: str
    dt: str  # the business date, YYYY-MM-DD
    title: str  # Chinese, one line
    body: str  # Chinese, the lines below the title
    task: str | None = None
    reason: str | None = None
    link: str | None = None

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.body}"

    def as_json(self) -> dict:
        fields = ("kind", "tenant", "bank_zh", "dt", "task", "reason", "link", "title")
        return {**{f: getattr(self, f) for f in fields}, "text": self.text}


class Channel(Protocol):
    def send(self, alert: Alert, targets: tuple[str, ...]) -> None: ...


class Email:
    """One message to every address of the alert (bank's and province's together)."""

    def send(self, alert: Alert, targets: tuple[str, ...]) -> None:
        smtp = alert_settings().smtp
        if not smtp.host or not smtp.sender:
            raise ValueError(f"{alerts_file()}: smtp.host and smtp.sender must be set to send email alerts")
        message = EmailMessage()
        message["Subject"] = alert.title
        message["From"] = smtp.sender
        message["To"] = ", ".join(targets)
        message.set_content(alert.text, charset="utf-8")
        with smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT_S) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.user and smtp.password_file:
                client.login(smtp.user, smtp.password_file.read_text(encoding="utf-8").strip())
            client.send_message(message)


def _post(url: str, payload: dict) -> None:
    response = requests.post(url, json=payload, timeout=TIMEOUT_S)
    response.raise_for_status()
    # The chat robots answer 200 with an error code in the body (e.g. a wrong keyword or token).
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        if isinstance(body, dict) and body.get("errcode", 0) != 0:
            raise requests.HTTPError(f"{url} refused the message: {body}")


class DingTalk:
    """DingTalk custom robot: {"msgtype": "text", "text": {"content": …}}."""

    def send(self, alert: Alert, targets: tuple[str, ...]) -> None:
        for url in targets:
            _post(url, {"msgtype": "text", "text": {"content": alert.text}})


class WeCom:
    """WeCom (企业微信) group robot: the same text message shape as DingTalk's."""

    def send(self, alert: Alert, targets: tuple[str, ...]) -> None:
        for url in targets:
            _post(url, {"msgtype": "text", "text": {"content": alert.text}})


class Webhook:
    """Any endpoint: Granary's own JSON (Alert.as_json)."""

    def send(self, alert: Alert, targets: tuple[str, ...]) -> None:
        for url in targets:
            _post(url, alert.as_json())


CHANNELS: dict[str, Channel] = {
    "email": Email(),
    "dingtalk": DingTalk(),
    "wecom": WeCom(),
    "webhook": Webhook(),
}
