"""SigV4 on a function URL with `AuthType: AWS_IAM`, as Lambda checks it: an unsigned request is
403 Forbidden, a key the endpoint does not know or a signature that does not match is 403 with
IAM's message; a signed one must also be allowed `lambda:InvokeFunctionUrl` (the caller's
account is the app's: its root keys are; a function's role session needs its role or the
function's resource policy to allow it). Signatures are recomputed with botocore's signer.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

FORBIDDEN = (403, '{"Message":"Forbidden"}')
BAD_SIGNATURE = (
    403,
    '{"Message":"The request signature we calculated does not match the signature you '
    "provided. Check your AWS Secret Access Key and signing method. Consult the service "
    'documentation for details."}',
)
BAD_TOKEN = (403, '{"Message":"The security token included in the request is invalid."}')


@dataclass(frozen=True, slots=True)
class Caller:
    access_key: str
    token: str | None
    function: str | None  # the function whose role session signed it; None: a root key


def _between(text: str, start: str, end: str) -> str:
    return text.partition(start)[2].partition(end)[0]


def verify(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Callable[[str], tuple[str, str | None, str | None] | None],
) -> Caller | tuple[int, str]:
    """The caller of a correctly signed request, else the (status, body) Lambda answers.
    `secrets(access key)` gives (secret key, session token, function) for a known key."""
    lowered = {k.lower(): v for k, v in headers.items()}
    header = lowered.get("authorization", "")
    if not header.startswith("AWS4-HMAC-SHA256 "):
        return FORBIDDEN
    scope = _between(header, "Credential=", ",").strip().split("/")
    signed = _between(header + ",", "SignedHeaders=", ",").strip().split(";")
    given = _between(header + ",", "Signature=", ",").strip()
    if len(scope) != 5 or not given or "x-amz-date" not in lowered:
        return FORBIDDEN
    key, _, region, service, _ = scope
    known = secrets(key)
    if known is None:
        return BAD_TOKEN
    secret, token, function = known
    if token is not None and lowered.get("x-amz-security-token") != token:
        return BAD_TOKEN
    auth = SigV4Auth(Credentials(key, secret, token), service, region)
    request = AWSRequest(
        method=method,
        url=url,
        data=body,
        headers={k: v for k, v in headers.items() if k.lower() in signed},
    )
    request.context["timestamp"] = lowered["x-amz-date"]
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, given):
        return BAD_SIGNATURE
    return Caller(access_key=key, token=token, function=function)
