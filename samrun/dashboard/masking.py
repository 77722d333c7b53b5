"""Secrets stay out of the page: environment values of NoEcho parameters, and of variables
whose name looks like a credential, are shown as ****."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "****"
CREDENTIAL = re.compile(
    r"(SECRET|PASSWORD|PASSWD|PWD|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH|"
    r"SESSION_?KEY|SIGNING_?KEY|CLIENT_?KEY|DSN|CONNECTION_?STRING)",
    re.IGNORECASE,
)


def looks_secret(name: str) -> bool:
    """A variable whose name says it holds a credential (DB_PASSWORD, STRIPE_API_KEY...)."""
    return CREDENTIAL.search(name) is not None


def mask_environment(environment: Mapping[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    """`environment` with credential-looking names masked, and NoEcho values masked anywhere."""
    shown: dict[str, Any] = {}
    for name, value in environment.items():
        if looks_secret(name):
            shown[name] = MASK
        else:
            shown[name] = mask_text(value, secrets) if isinstance(value, str) else value
    return shown


def mask_text(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text
