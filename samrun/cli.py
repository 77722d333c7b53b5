"""The command line: flags -> Config -> the command. Thin; the only module that prints hints.

Exit codes: 0 ok, 1 a function error (invoke) or validation errors (validate), 2 a template or
usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from samrun.config import Config
from samrun.durable import cli as durable_cli
from samrun.errors import SamrunError, TemplateError
from samrun.model import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, AppGraph, PackageType
from samrun.options import build_config


def cmd_plan(args: argparse.Namespace) -> int:
    from samrun.placement import backends, place
    from samrun.plan import plan_document, plan_table
    from samrun.selection import load_selected

    config = build_config(args)
    placement = place(load_selected(config, placed=False), config)
    graph = placement.graph
    where = backends(placement, config)
    if args.json:
        document = plan_document(
            graph, where, vpc_subnets=config.vpc.subnets, enforce_iam=config.enforce_iam
        )
        found = args.samconfig
        document["samconfig"] = {"file": str(found.path), "env": found.env} if found else None
        print(json.dumps(document, indent=2))
    else:
        print(
            plan_table(graph, where, vpc_subnets=config.vpc.subnets, enforce_iam=config.enforce_iam)
        )
    for warning in graph.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for line in image_function_notes(graph, config):
        print(f"warning: {line}", file=sys.stderr)
    return 0


def image_function_notes(graph: AppGraph, config: Config) -> list[str]:
    """PackageType Image functions run in containers: say so when no engine would run them."""
    images = [f.name for f in graph.functions if f.config.package_type is PackageType.IMAGE]
    if not images:
        return []
    from samrun.runtime.docker_engine import probe

    problem = probe(config.engine_env)
    if problem is None:
        return []
    return [
        f"{name} (PackageType Image) will not run: it needs a Docker engine: {problem}"
        for name in images
    ]


def cmd_validate(args: argparse.Namespace) -> int:
    from samrun.template import validate_template

    config = build_config(args)
    problems = validate_template(
        config.template,
        parameter_overrides=config.parameter_overrides,
        region=config.region,
        account_id=config.account_id,
        layer_map=config.layer_map,
    )
    for problem in problems:
        print(problem.render())
    errors = [p for p in problems if p.is_error]
    if not errors:
        print(f"{config.template}: valid", file=sys.stderr)
    return 1 if errors else 0


def cmd_up(args: argparse.Namespace) -> int:
    from samrun.orchestrator import run_up

    return run_up(build_config(args))


def cmd_build(args: argparse.Namespace) -> int:
    from samrun.orchestrator import run_build

    return run_build(build_config(args))


def cmd_invoke(args: argparse.Namespace) -> int:
    from samrun.orchestrator import run_invoke

    event = sys.stdin.buffer.read() if args.event == "-" else None
    if args.event and args.event != "-":
        try:
            event = Path(args.event).read_bytes()
        except OSError as exc:
            raise SamrunError(f"-e {args.event}: {exc.strerror}") from None
    event = event if event is not None else b"{}"
    return run_invoke(build_config(args), args.function, event, args.tenant_id)


def cmd_debug_config(args: argparse.Namespace) -> int:
    from samrun.debug_config import debug_config
    from samrun.selection import load_selected

    config = build_config(args)
    graph = load_selected(config)
    output = debug_config(
        graph,
        config.template,
        config.state_dir,
        function=args.function,
        ide=args.ide,
        write=args.write,
        port_base=args.port_base,
        docker=args.backend == "docker",
    )
    print(output.text, end="")
    for note in output.notes:
        print(f"samrun: {note}", file=sys.stderr)
    return 0


def split_debug_config_target(args: argparse.Namespace) -> None:
    """`debug-config [TEMPLATE] [FUNCTION]`: one word is the template when it names a file."""
    words = list(args.target)
    if len(words) > 2:
        raise SamrunError("debug-config takes [TEMPLATE] [FUNCTION]")
    template = None
    if len(words) == 2 or (words and looks_like_template(words[0])):
        template = words.pop(0)
    args.template = template
    args.function = words[0] if words else None


def looks_like_template(word: str) -> bool:
    path = Path(word)
    return path.is_file() or path.suffix in (".yaml", ".yml", ".json", ".template")


def cmd_trigger(args: argparse.Namespace) -> int:
    from samrun.orchestrator import run_trigger, run_trigger_remote

    if len(args.target) > 2:
        raise SamrunError("trigger takes [TEMPLATE] NAME")
    if args.url:
        return run_trigger_remote(args.url, args.target[-1])
    return run_trigger(build_config(args), args.target[-1])


def cmd_events_generate(args: argparse.Namespace) -> int:
    from samrun.frontdoors.sample_events import KINDS, http_sample
    from samrun.sources.samples import generate

    options = {k: v for k, v in vars(args).items() if k in EVENT_OPTIONS and v is not None}
    try:
        if args.service in KINDS:
            event = http_sample(args.service, args.kind, options)
        else:
            event = generate(args.service, args.kind, options)
    except ValueError as exc:
        raise SamrunError(str(exc)) from None
    print(json.dumps(event, indent=2))
    return 0


EVENT_OPTIONS = {
    "region": "the event's region",
    "account_id": "the account id in ARNs",
    "bucket": "s3: the bucket name",
    "key": "s3: the object key",
    "size": "s3: the object size",
    "body": "sqs/sns/kinesis/apigateway/alb: the body or message; eventbridge: detail JSON",
    "subject": "sns: the subject",
    "queue": "sqs: the queue name",
    "topic": "sns: the topic name or ARN",
    "stream": "kinesis: the stream name",
    "partition_key": "kinesis: the partition key",
    "table": "dynamodb: the table name",
    "source": "eventbridge: the event source",
    "detail_type": "eventbridge: the detail-type",
    "rule": "scheduled-event: the rule name",
    "path": "apigateway/alb: the request path",
    "method": "apigateway/alb: the HTTP method",
}


def add_events(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    trigger = commands.add_parser(
        "trigger", help="fire a schedule, or send a sample event to a trigger, now"
    )
    trigger.add_argument("target", nargs="+", metavar="[TEMPLATE] NAME")
    trigger.add_argument(
        "--url", metavar="LAMBDA_API", help="fire it in the `samrun up` whose Lambda API is here"
    )
    add_common(trigger, template=False)
    add_runtime(trigger)
    trigger.set_defaults(run=cmd_trigger)
    events = commands.add_parser("events", help="sample events")
    actions = events.add_subparsers(dest="action", required=True)
    generate = actions.add_parser(
        "generate", help="print a sample event (as `sam local generate-event`)"
    )
    generate.add_argument(
        "service",
        metavar="SOURCE",
        help="s3 | sqs | sns | kinesis | dynamodb | eventbridge | cloudwatch | apigateway | alb",
    )
    generate.add_argument(
        "kind",
        metavar="KIND",
        help="e.g. put, receive-message, notification, get-records, "
        "update, event, scheduled-event, aws-proxy, http-api-proxy, request",
    )
    for name, text in EVENT_OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        generate.add_argument(flag, dest=name, type=int if name == "size" else str, help=text)
    generate.set_defaults(run=cmd_events_generate)


def cmd_traces(args: argparse.Namespace) -> int:
    """Recent traces from the state folder's trace store, as text waterfalls."""
    from samrun.observe import trace_store, waterfall

    since = waterfall.parse_since(args.since) if args.since else None
    state_dir = Path(args.state_dir).resolve()
    traces = trace_store.read(state_dir, trace_id=args.id, since_s=since)
    if args.function:
        traces = {k: v for k, v in traces.items() if waterfall.involves(v, args.function)}
    if not traces:
        what = f"trace {args.id}" if args.id else "no traces"
        print(
            f"samrun: {what} not found in {state_dir}" if args.id else f"samrun: {what}",
            file=sys.stderr,
        )
        return 1 if args.id else 0
    for trace_id in list(traces)[-args.limit :]:
        print("\n".join(waterfall.render(trace_id, traces[trace_id])), end="\n\n")
    return 0


def cmd_smoke(args: argparse.Namespace) -> int:
    from samrun.smoke import run_smoke

    checks = Path(args.checks).resolve() if args.checks else None
    junit = Path(args.junit).resolve() if args.junit else None
    return run_smoke(build_config(args), checks, junit, args.timeout)


def add_common(parser: argparse.ArgumentParser, *, template: bool = True) -> None:
    if template:
        parser.add_argument("template", nargs="?", help="template file (default: template.yaml)")
    parser.add_argument(
        "--stack",
        metavar="NAME",
        help="in a CDK project (cdk.json), the stack of cdk.out to run when it has several",
    )
    parser.add_argument(
        "--parameter-overrides", nargs="+", action="extend", default=[], metavar="KEY=VALUE"
    )
    parser.add_argument("--region", default=DEFAULT_REGION, help="AWS::Region (us-east-1)")
    parser.add_argument("--account-id", default=DEFAULT_ACCOUNT_ID, help="AWS::AccountId")
    parser.add_argument("--state-dir", default=".samrun", help="samrun's state folder")
    parser.add_argument(
        "--layer-map",
        nargs="+",
        action="extend",
        default=[],
        metavar="ARN=PATH",
        help="local content (folder or .zip) for a layer the template names only by ARN",
    )
    parser.add_argument(
        "--config-file",
        metavar="PATH",
        help="SAM CLI's samconfig file (default: samconfig.toml, .yaml, .yml in the project)",
    )
    parser.add_argument(
        "--config-env", metavar="NAME", help="the samconfig environment to read (default)"
    )


def add_debug(parser: argparse.ArgumentParser, *, one_shot: bool) -> None:
    """Step-through debugging (runtime/debugging.py), with SAM CLI's flags beside samrun's."""
    if one_shot:
        parser.add_argument(
            "--debug",
            nargs="?",
            const="",
            metavar="PORT",
            help="run the function under its debugger, on PORT (picked and printed if none)",
        )
    else:
        parser.add_argument(
            "--debug",
            nargs="+",
            action="extend",
            metavar="FUNCTION[=PORT]",
            help="run FUNCTION under its debugger, on PORT (picked and printed if none)",
        )
    parser.add_argument(
        "-d", "--debug-port", type=int, metavar="PORT", help="SAM CLI's: the debugger's port"
    )
    parser.add_argument(
        "--debug-function", metavar="NAME", help="SAM CLI's: the function --debug-port debugs"
    )
    parser.add_argument(
        "--debug-args", metavar='"ARGS"', help="extra interpreter arguments for the debugger"
    )
    parser.add_argument("--debugger-path", metavar="PATH", help="where a debugger lives")
    wait = parser.add_mutually_exclusive_group()
    wait.add_argument(
        "--debug-wait",
        dest="debug_wait",
        action="store_true",
        default=None,
        help="the first invocation waits for a debugger to attach"
        + (" (the default here)" if one_shot else ""),
    )
    wait.add_argument(
        "--no-debug-wait", dest="debug_wait", action="store_false", help="do not wait for it"
    )


def add_runtime(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=("process", "docker"), default="process")
    parser.add_argument(
        "--image-map",
        nargs="+",
        action="extend",
        default=[],
        metavar="RUNTIME=IMAGE",
        help="docker: run RUNTIME's functions in IMAGE instead of the official Lambda image",
    )
    parser.add_argument(
        "--skip-pull", action="store_true", help="docker: use only images the engine has"
    )
    parser.add_argument(
        "--container-host",
        metavar="HOST",
        help="docker: the address containers reach samrun at (remote engines)",
    )
    parser.add_argument("--env-vars", metavar="FILE", help="SAM CLI's environment JSON file")
    parser.add_argument("--max-sandboxes", type=int, default=32, help="most live sandboxes")
    parser.add_argument("--idle-ttl", type=float, default=300.0, help="idle instance lifetime (s)")
    aws = parser.add_mutually_exclusive_group()
    aws.add_argument("--aws-endpoint", metavar="URL", help="AWS endpoint (default: embedded moto)")
    aws.add_argument("--aws-profile", metavar="NAME", help="use real AWS with this profile")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="divide Lambda's waits (retries, scaling, canary steps) by this (1)",
    )
    parser.add_argument(
        "--account-concurrency", type=int, default=1000, help="account concurrency limit (1000)"
    )
    parser.add_argument("--price-file", metavar="FILE", help="Lambda price table (JSON)")
    add_enforce_iam(parser)
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="let idle instances run between invocations (Lambda freezes them)",
    )
    parser.add_argument(
        "--no-cloudwatch",
        action="store_true",
        help="keep metrics and function logs local (no PutMetricData, no CloudWatch Logs)",
    )
    parser.add_argument(
        "--trace-sample-rate",
        type=float,
        metavar="RATE",
        help="X-Ray: trace this share (0-1) of requests to Active functions; 1 traces all "
        "(default: Lambda's rule, the first request each second then 5%%)",
    )
    parser.add_argument(
        "--xray-upload",
        action="store_true",
        help="with --aws-profile: send traces to real X-Ray too (PutTraceSegments)",
    )
    parser.add_argument(
        "--vpc-allow",
        nargs="+",
        action="extend",
        default=[],
        metavar="HOST:PORT",
        help="an address VPC functions reach, as if in their VPC (a local database standing "
        "for RDS)",
    )
    add_vpc_config(parser)


def add_vpc_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vpc-config",
        metavar="FILE",
        help="the subnets the template names only by id and their egress "
        "(schemas/vpc-config.schema.json)",
    )
    parser.add_argument(
        "--burst-concurrency",
        type=int,
        default=1000,
        help="a function's initial burst before it scales by 500 per minute (1000)",
    )


def add_enforce_iam(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--enforce-iam",
        action="store_true",
        help="each function calls AWS with its execution role, checked against its policies; "
        "services invoke it only as its resource policy allows (also SAMRUN_ENFORCE_IAM=1)",
    )


def add_function_filter(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--function",
        dest="functions",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME",
        help="serve only these functions (logical id, FunctionName, Child/Function or a CDK "
        "construct path or id) and what they need",
    )


def package_version() -> str:
    """samrun's version from its installed metadata (the source's when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("samrun")
    except PackageNotFoundError:
        from samrun import __version__

        return __version__


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="samrun",
        description="Run an AWS SAM or CloudFormation application locally, as Lambda runs it.",
    )
    parser.add_argument("--version", action="version", version=f"samrun {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run the app until Ctrl-C")
    add_common(up)
    add_runtime(up)
    add_debug(up, one_shot=False)
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=3000, help="API routes (3000)")
    up.add_argument("--invoke-port", type=int, default=3001, help="Lambda API (3001)")
    up.add_argument(
        "--alb-port",
        nargs="+",
        action="extend",
        default=[],
        metavar="LISTENER=PORT",
        help="serve an ALB listener (logical id) on this local port",
    )
    up.add_argument(
        "--cloudfront-port",
        nargs="+",
        action="extend",
        default=[],
        metavar="DISTRIBUTION=PORT",
        help="serve a CloudFront distribution (logical id) on this port (default: a free one)",
    )
    up.add_argument(
        "--no-cache",
        action="store_true",
        help="CloudFront doors cache nothing: every request reaches the origin",
    )
    up.add_argument("--watch", action="store_true", help="hot-reload code and template")
    up.add_argument(
        "--no-dashboard",
        action="store_true",
        help="do not serve the browser dashboard at http://127.0.0.1:INVOKE_PORT/_samrun/",
    )
    up.add_argument(
        "--allow-origin",
        nargs="+",
        action="extend",
        metavar="ORIGIN",
        help="a browser origin (http://host:port) the Lambda API accepts; '*': any origin and Host",
    )
    add_function_filter(up)
    up.add_argument(
        "--disable-authorizer",
        action="store_true",
        help="serve API routes without their authorizers (as `sam local start-api`)",
    )
    up.add_argument(
        "--watch-publish",
        action="store_true",
        help="with --watch: a reload publishes a version and moves the AutoPublishAlias",
    )
    up.add_argument(
        "--otlp-endpoint",
        metavar="URL",
        help="also export traces as OpenTelemetry spans over OTLP/HTTP to this collector "
        "(http://localhost:4318: /v1/traces is added to a URL without a path)",
    )
    up.set_defaults(run=cmd_up)

    invoke = commands.add_parser("invoke", help="invoke one function once, without a server")
    invoke.add_argument("target", nargs="+", metavar="[TEMPLATE] FUNCTION[:QUALIFIER]")
    invoke.add_argument("-e", "--event", help="event file, or - for standard input")
    invoke.add_argument(
        "--tenant-id", metavar="ID", help="the tenant of a TenancyConfig PER_TENANT function"
    )
    add_common(invoke, template=False)
    add_runtime(invoke)
    add_debug(invoke, one_shot=True)
    invoke.set_defaults(run=cmd_invoke)

    plan = commands.add_parser("plan", help="what `up` would run")
    add_common(plan)
    plan.add_argument("--json", action="store_true", help="JSON (schemas/plan.schema.json)")
    add_vpc_config(plan)
    add_enforce_iam(plan)
    add_function_filter(plan)
    plan.set_defaults(run=cmd_plan)

    smoke = commands.add_parser("smoke", help="CI: deploy locally, run checks, tear down")
    add_common(smoke)
    add_runtime(smoke)
    smoke.add_argument("--checks", metavar="FILE", help="checks file (schemas/smoke-checks)")
    add_function_filter(smoke)
    smoke.add_argument("--junit", metavar="FILE", help="write JUnit XML here")
    smoke.add_argument(
        "--timeout", type=float, default=300.0, help="limit of the whole run, seconds (300)"
    )
    smoke.set_defaults(run=cmd_smoke)

    validate = commands.add_parser("validate", help="cfn-lint plus samrun's own checks")
    add_common(validate)
    validate.set_defaults(run=cmd_validate)

    debug = commands.add_parser(
        "debug-config", help="attach configurations for VS Code or PyCharm (printed)"
    )
    debug.add_argument("target", nargs="*", metavar="[TEMPLATE] [FUNCTION]")
    add_common(debug, template=False)
    debug.add_argument("--ide", choices=("vscode", "pycharm"), default="vscode")
    debug.add_argument(
        "--write",
        action="store_true",
        help="merge into .vscode/launch.json beside the template (samrun's entries only)",
    )
    debug.add_argument(
        "--port-base",
        type=int,
        metavar="PORT",
        help="ports from PORT on, in template order (default: Python 5678.., Node.js 9229..)",
    )
    debug.add_argument(
        "--backend",
        choices=("process", "docker"),
        default="process",
        help="docker: map /var/task to each function's folder",
    )
    debug.set_defaults(run=cmd_debug_config)

    traces = commands.add_parser("traces", help="recent X-Ray traces as text waterfalls")
    traces.add_argument("--state-dir", default=".samrun", help="samrun's state folder")
    traces.add_argument("--function", metavar="NAME", help="only traces through this function")
    traces.add_argument("--since", metavar="DURATION", help="only traces of the last 30s, 5m, 2h")
    traces.add_argument("--id", metavar="TRACE", help="this trace only (1-xxxxxxxx-...)")
    traces.add_argument("--limit", type=int, default=20, help="at most this many traces (20)")
    traces.set_defaults(run=cmd_traces, template=None)

    build = commands.add_parser(
        "build", help="install functions' and layers' dependencies into the state folder"
    )
    add_common(build)
    build.set_defaults(run=cmd_build)
    add_events(commands)
    durable_cli.add_parsers(commands)
    return parser


def split_invoke_target(args: argparse.Namespace) -> None:
    """`invoke [TEMPLATE] FUNCTION[:QUALIFIER]`: one or two positionals."""
    if len(args.target) > 2:
        raise SamrunError("invoke takes [TEMPLATE] FUNCTION[:QUALIFIER]")
    args.template = args.target[0] if len(args.target) == 2 else None
    args.function = args.target[-1]


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "invoke":
            split_invoke_target(args)
        if args.command == "debug-config":
            split_debug_config_target(args)
        if args.command == "trigger":
            args.template = args.target[0] if len(args.target) == 2 else None
        swallowed_template(args)
        apply_samconfig(parser, args, argv)
    except SamrunError as exc:
        sys.exit(report(exc))
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        code = run(args)
    except SamrunError as exc:
        code = report(exc)
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


LIST_FLAGS = (
    "parameter_overrides",
    "layer_map",
    "image_map",
    "alb_port",
    "cloudfront_port",
    "allow_origin",
    "functions",
    "vpc_allow",
)


def swallowed_template(args: argparse.Namespace) -> None:
    """`up --function A template.yaml`: a list option takes every word after it, the template
    too; say so rather than run ./template.yaml with a function named after a file."""
    if getattr(args, "template", None) is not None:
        return
    for dest in LIST_FLAGS:
        for value in getattr(args, dest, None) or ():
            if Path(value).suffix in (".yaml", ".yml", ".json") and Path(value).is_file():
                flag = "--function" if dest == "functions" else "--" + dest.replace("_", "-")
                raise SamrunError(
                    f"{value} was read as a value of {flag}: name TEMPLATE before the options, "
                    "or end the list with --"
                )


def apply_samconfig(
    parser: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str]
) -> None:
    """Values from SAM CLI's samconfig file for every flag not given on the command line."""
    from samrun import samconfig

    args.samconfig = None
    if args.command not in samconfig.SECTIONS:
        return
    path = samconfig.find(args.config_file, args.template, Path.cwd())
    if path is None:
        if args.config_env is not None:
            raise SamrunError(f"--config-env {args.config_env}: no samconfig file in the project")
        return
    env = args.config_env or samconfig.DEFAULT_ENV
    found = samconfig.read(path, env, args.command, env_given=args.config_env is not None)
    actions = {a.dest: a for a in command_parser(parser, args.command)._actions}
    given = given_flags(argv)
    for dest, value in found.values.items():
        if dest == "template":  # `invoke` and `trigger` take it as their first positional
            if args.template is None:
                args.template = value
            continue
        action = actions.get(dest)
        if action is not None and dest not in given:
            setattr(args, dest, flag_value(action, value, found.path))
    args.samconfig = found
    print(f"samrun: read {found.describe()}", file=sys.stderr)
    for warning in found.warnings:
        print(f"samrun: warning: {warning}", file=sys.stderr)


def command_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser = action.choices[command]
            return found
    raise KeyError(command)


def given_flags(argv: Sequence[str]) -> set[str]:
    """The dests the command line sets itself: argv parsed again with no defaults at all."""
    shadow = make_parser()
    parsers = [shadow]
    while parsers:
        each = parsers.pop()
        for action in each._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers += action.choices.values()
            elif action.dest != "help":
                action.default = argparse.SUPPRESS
    return set(vars(shadow.parse_args(argv)))


def flag_value(action: argparse.Action, value: object, path: Path) -> object:
    """A samconfig value as the flag's own parsing would have made it."""
    where = f"{path}: {action.dest}"
    if action.nargs == "+":
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if isinstance(value, list):
        raise SamrunError(f"{where}: expected one value, got a list")
    if action.nargs == 0:  # store_true
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise SamrunError(f"{where}: expected true or false, got {value!r}")
    try:
        converted = action.type(str(value)) if callable(action.type) else str(value)
    except (TypeError, ValueError):
        raise SamrunError(f"{where}: not a valid value: {value!r}") from None
    if action.choices is not None and converted not in action.choices:
        known = ", ".join(map(str, action.choices))
        raise SamrunError(f"{where}: {value!r} is not one of {known}")
    return converted


def report(exc: SamrunError) -> int:
    """The one place a SamrunError becomes a message and an exit code."""
    print(f"samrun: {exc}" if not isinstance(exc, TemplateError) else str(exc), file=sys.stderr)
    return 2
