"""`samrun executions`, `samrun execution history` and `samrun callback`: durable executions at a
terminal. The first two read the state folder (samrun need not be running); `callback` asks the
running samrun, whose Lambda API address `up` leaves in `<state>/durable/endpoint`."""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from samrun.durable.engine import STATUSES
from samrun.durable.store import ExecutionStore
from samrun.errors import SamrunError

ENDPOINT_FILE = "endpoint"


def add_parsers(commands: Any) -> None:
    executions = commands.add_parser("executions", help="durable executions (of one function)")
    executions.add_argument("function", nargs="?", metavar="FUNCTION")
    executions.add_argument("--state-dir", default=".samrun", help="samrun's state folder")
    executions.add_argument("--status", action="append", metavar="STATUS", help="only these")
    executions.add_argument("--json", action="store_true", help="as JSON")
    executions.set_defaults(run=cmd_executions, template=None)

    execution = commands.add_parser("execution", help="one durable execution")
    actions = execution.add_subparsers(dest="action", required=True)
    history = actions.add_parser("history", help="its history events, in order")
    history.add_argument("arn", metavar="ARN", help="the DurableExecutionArn (or its id)")
    history.add_argument("--state-dir", default=".samrun", help="samrun's state folder")
    history.add_argument("--json", action="store_true", help="as JSON")
    history.set_defaults(run=cmd_history, template=None)

    callback = commands.add_parser("callback", help="complete a durable callback")
    callback.add_argument("outcome", choices=("succeed", "fail", "heartbeat"))
    callback.add_argument("callback_id", metavar="ID")
    callback.add_argument("--result", metavar="JSON", help="succeed: the result")
    callback.add_argument("--error-type", metavar="TYPE", help="fail: the error's type")
    callback.add_argument("--error-message", metavar="TEXT", help="fail: the error's message")
    callback.add_argument("--state-dir", default=".samrun", help="samrun's state folder")
    callback.add_argument("--endpoint", metavar="URL", help="the Lambda API (default: from up)")
    callback.set_defaults(run=cmd_callback, template=None)


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def cmd_executions(args: argparse.Namespace) -> int:
    records = ExecutionStore(Path(args.state_dir).resolve()).load_all()
    if args.function:
        records = [r for r in records if r["function"] == args.function]
    unknown = [s for s in args.status or [] if s.upper() not in STATUSES]
    if unknown:  # a typo would list "no durable executions", as if there were none
        print(
            f"samrun executions: --status {unknown[0]!r} is not a status "
            f"(one of {', '.join(STATUSES)})",
            file=sys.stderr,
        )
        return 2
    if args.status:
        records = [r for r in records if r["status"] in {s.upper() for s in args.status}]
    rows = [
        {
            "function": r["function"],
            "name": r["name"],
            "status": r["status"],
            "started": _when(r["start"]),
            "ended": _when(r.get("end")),
            "arn": r["arn"],
        }
        for r in records
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no durable executions", file=sys.stderr)
        return 0
    _table(rows, ("function", "name", "status", "started", "ended", "arn"))
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    records = ExecutionStore(Path(args.state_dir).resolve()).load_all()
    found = [r for r in records if args.arn in (r["arn"], r["id"])]
    if not found:
        raise SamrunError(f"no durable execution {args.arn} in {args.state_dir}")
    events = found[0]["events"]
    if args.json:
        print(json.dumps(events, indent=2))
        return 0
    rows = []
    for event in events:
        details: Any = next((v for k, v in event.items() if k.endswith("Details")), {})
        rows.append(
            {
                "id": str(event["EventId"]),
                "time": _when(event.get("EventTimestamp")),
                "event": event["EventType"],
                "name": str(event.get("Name") or ""),
                "details": json.dumps(details, separators=(",", ":"))[:100],
            }
        )
    _table(rows, ("id", "time", "event", "name", "details"))
    return 0


def cmd_callback(args: argparse.Namespace) -> int:
    endpoint = args.endpoint
    if not endpoint:
        path = Path(args.state_dir).resolve() / "durable" / ENDPOINT_FILE
        try:
            endpoint = path.read_text().strip()
        except OSError:
            raise SamrunError(
                f"no running samrun found for {args.state_dir} (start `samrun up`, "
                "or give its Lambda API with --endpoint)"
            ) from None
    body: bytes = b""
    if args.outcome == "succeed" and args.result is not None:
        try:
            json.loads(args.result)
        except ValueError as exc:
            raise SamrunError(f"--result is not JSON: {exc}") from None
        body = args.result.encode()
    if args.outcome == "fail":
        error = {"ErrorType": args.error_type or "Error", "ErrorMessage": args.error_message or ""}
        body = json.dumps(error).encode()
    if not endpoint.startswith(("http://", "https://")):
        raise SamrunError(f"--endpoint {endpoint!r}: expected an http:// or https:// URL")
    bad_url = SamrunError(f"--endpoint {endpoint!r}: not a valid URL")
    if not args.callback_id:
        raise SamrunError("the callback ID is empty (it is the one the function's log names)")
    url = f"{endpoint}/2025-12-01/durable-execution-callbacks/{quote(args.callback_id, safe='')}"
    try:
        request = urllib.request.Request(f"{url}/{args.outcome}", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass
    except (ValueError, http.client.InvalidURL):
        raise bad_url from None
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message", "")
        except ValueError:
            message = ""
        raise SamrunError(f"callback {args.callback_id}: {exc.code} {message}") from None
    except OSError as exc:
        raise SamrunError(f"cannot reach samrun at {endpoint}: {exc}") from None
    print(f"callback {args.callback_id}: {args.outcome} sent")
    return 0


def _table(rows: list[dict[str, str]], columns: tuple[str, ...]) -> None:
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    print("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns).rstrip())
