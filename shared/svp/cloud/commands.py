"""The `svp cloud ...` subcommands: argument parsing and what each prints."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from svp.cloud import clients
from svp.cloud.target import Target, TargetError, resolve
from svp.config import Settings
from svp.topology import PIPELINE

NEXT_STEP = (
    "Next: add a row to your Link Database (url, tag, status = pending); `svp cloud poll`"
    " picks it up now instead of within the minute."
)


def add_parser(sub: Any) -> None:
    """`svp cloud` and its subcommands, on the `svp` parser's subparsers."""
    cloud = sub.add_parser("cloud", help="set up and operate the Google Cloud deployment")
    cloud.set_defaults(func=run)
    commands = cloud.add_subparsers(dest="cloud_command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text)
        parser.add_argument("--terraform-dir", default="terraform", help="(default: terraform)")
        parser.add_argument("--project", help="(default: from `terraform output`)")
        parser.add_argument("--region", help="(default: from `terraform output`)")
        parser.add_argument("--prefix", help="resource name prefix (default: from terraform)")
        return parser

    setup = command("setup", "store each secret, checked against its service")
    setup.add_argument(
        "--from-env",
        action="store_true",
        help="take NOTION_TOKEN, GEMINI_API_KEY, OPENAI_API_KEY and NOTION_CLIENT_SECRET from"
        " the environment instead of asking (unset: keep what is stored)",
    )
    setup.add_argument("--link-databases", help="Notion Link Database ids the token must read")
    setup.add_argument("--content-databases", help="tag=id pairs the token must read")
    setup.add_argument("--notion-client-id", help="the public integration's OAuth client id")
    setup.add_argument(
        "--rotate-encryption-key",
        action="store_true",
        help="replace the encryption key: every signed-in person must sign in again",
    )
    setup.add_argument(
        "--rotate-session-secret", action="store_true", help="replace it: signs everybody out"
    )
    setup.add_argument("--yes", action="store_true", help="confirm rotations without asking")
    setup.add_argument(
        "--cookies",
        type=Path,
        metavar="FILE",
        help="a Netscape cookies.txt for yt-dlp (Instagram needs a sessionid); then set"
        " enable_cookies = true and apply",
    )

    hook = command("webhook-token", "store Notion's webhook verification token")
    hook.add_argument("--accept", metavar="TOKEN", help="the token, as Notion shows it")
    command("poll", "run the poller's Scheduler job now")
    command("pause", "pause polling (the Scheduler job)")
    command("resume", "resume polling")
    command("status", "functions, polling, jobs in flight / failed / dead-lettered")
    replay = command("replay", "re-queue dead-lettered messages (svp replay, on this deployment)")
    replay.add_argument("--job", help="only this job's messages")
    replay.add_argument("--stage", choices=PIPELINE, help="only this stage's dead letters")
    replay.add_argument("--limit", type=int)
    replay.add_argument("--dry-run", action="store_true", help="show what would be replayed")
    logs = command("logs", "recent log lines of a job or a function, oldest first")
    logs.add_argument("--job", help="a job id (the link's Notion page id)")
    logs.add_argument("--function", help="poller, downloader, ... (default: all)")
    logs.add_argument("--hours", type=float, default=24.0, help="how far back (default: 24)")
    logs.add_argument("--limit", type=int, default=200, help="lines at most (default: 200)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        target = resolve(args)
    except TargetError as exc:
        print(f"svp: {exc}", file=sys.stderr)
        return 2
    handler = {
        "setup": cmd_setup,
        "webhook-token": cmd_webhook_token,
        "poll": cmd_scheduler,
        "pause": cmd_scheduler,
        "resume": cmd_scheduler,
        "status": cmd_status,
        "replay": cmd_replay,
        "logs": cmd_logs,
    }[args.cloud_command]
    from google.auth.exceptions import DefaultCredentialsError

    try:
        return handler(args, settings, target)
    except DefaultCredentialsError:
        print(
            "svp: no Google credentials here: run `gcloud auth application-default login`"
            " as someone who may manage this project",
            file=sys.stderr,
        )
        return 2


# -- setup ----------------------------------------------------------------------------------
def cmd_setup(args: argparse.Namespace, settings: Settings, target: Target) -> int:
    from svp.cloud.setup import Asked, Options, Setup
    from svp.cloud.store import Current, SecretStore, StoreError

    def ask(asked: Asked, current: Current) -> str:
        if args.from_env:
            return os.environ.get(asked.env, "")
        state = f"set, version {current.version}: Enter keeps it" if current.is_set else "not set"
        return getpass.getpass(f"{asked.prompt} [{state}]: ")

    def confirm(question: str) -> bool:
        print(f"warning: {question}", file=sys.stderr)
        if args.from_env or not sys.stdin.isatty():
            return False
        return input("type yes to replace it: ").strip().lower() == "yes"

    options = Options(
        args.rotate_encryption_key, args.rotate_session_secret, args.yes, args.cookies
    )
    if args.rotate_encryption_key and args.yes:
        from svp.cloud.setup import ENCRYPTION_WARNING

        print(f"warning: {ENCRYPTION_WARNING}", file=sys.stderr)
    setup = Setup(
        SecretStore(clients.secret_manager(), target), target, settings, ask, confirm, options
    )
    print(f"svp cloud setup: project {target.project}, secrets {target.prefix}*")
    try:
        changes = setup.plan()
        if setup.problems:
            for problem in setup.problems:
                print(f"  refused: {problem}")
            print("nothing stored: fix the values above and run `svp cloud setup` again")
            return 1
        setup.apply(changes)
    except StoreError as exc:
        print("\n".join(setup.lines))
        print(f"svp: {exc}", file=sys.stderr)
        return 1
    print("\n".join(setup.lines))
    if changes:
        print("The functions use the new values within a minute; nothing to redeploy.")
    else:
        print("Nothing changed.")
    environments_set = _set_execution_environments(target)
    print(NEXT_STEP)
    return 0 if environments_set else 1


def _set_execution_environments(target: Target) -> bool:
    """What Terraform cannot: the Cloud Run execution environment of the functions that start
    children (svp.cloud.execution). Said per function; False when one could not be set."""
    from svp.cloud import execution

    print("Execution environments (the children's sandbox needs the second generation):")
    try:
        outcomes = execution.apply(clients.rest("functions"), clients.rest("run"), target)
    except Exception as exc:  # noqa: BLE001 - the secrets are stored: say it, exit 1
        print(f"  unavailable: {_short(exc)}")
        return False
    for outcome in outcomes:
        if outcome.error:
            print(f"  {outcome.function:<18} not set: {outcome.error}")
            print(
                f"  {'':<18} by hand: gcloud run services update {outcome.function}"
                f" --region {target.region} --execution-environment {outcome.wanted}"
            )
            continue
        done = f"set (was {outcome.was})" if outcome.changed else "already"
        print(f"  {outcome.function:<18} {outcome.wanted} {done}")
    return not any(outcome.error for outcome in outcomes)


# -- webhook token --------------------------------------------------------------------------
def cmd_webhook_token(args: argparse.Namespace, settings: Settings, target: Target) -> int:
    from svp.cloud.store import SecretStore, StoreError

    if not args.accept:
        return _list_pending(settings, target)
    token = args.accept.strip()
    if not token or len(token) > 512 or any(c.isspace() for c in token):
        print("svp: the token is one word, as Notion shows it", file=sys.stderr)
        return 2
    try:
        version = SecretStore(clients.secret_manager(), target).add("webhook-token", token)
    except StoreError as exc:
        print(f"svp: {exc}", file=sys.stderr)
        return 1
    print(
        f"stored as {target.secret_id('webhook-token')} version {version}: the webhook checks"
        " Notion's signatures with it within a minute (nothing to redeploy)"
    )
    return 0


def _list_pending(settings: Settings, target: Target) -> int:
    from svp.cloud.status import cloud_settings
    from svp.notion.webhook import pending_tokens
    from svp.wiring import build_runtime

    pending = pending_tokens(build_runtime(cloud_settings(settings, target)))
    if not pending:
        print(
            "svp: no token received yet: paste `terraform output webhook_url` into Notion's"
            " Webhooks tab; Notion then sends one",
            file=sys.stderr,
        )
        return 1
    for entry in pending:
        print(f"{entry['token']}\treceived {entry['received_at']}")
    print(
        "svp: not trusted yet: paste the token into Notion's Webhooks tab; once Notion shows the"
        " endpoint verified, run `svp cloud webhook-token --accept TOKEN`",
        file=sys.stderr,
    )
    return 0


# -- scheduler ------------------------------------------------------------------------------
def cmd_scheduler(args: argparse.Namespace, settings: Settings, target: Target) -> int:
    from svp.cloud import scheduler

    action = {"poll": scheduler.poll_now, "pause": scheduler.pause, "resume": scheduler.resume}
    try:
        print(action[args.cloud_command](target, clients.scheduler()))
    except scheduler.SchedulerError as exc:
        print(f"svp: {exc}", file=sys.stderr)
        return 1
    return 0


# -- status ---------------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace, settings: Settings, target: Target) -> int:
    from svp.cloud import scheduler, status
    from svp.wiring import build_runtime

    print(f"project {target.project}, region {target.region}")
    problems = 0
    from svp.cloud.store import SecretStore

    try:
        unset = status.unset_secrets(SecretStore(clients.secret_manager(), target))
    except Exception as exc:  # noqa: BLE001 - one section missing is said, the rest shown
        problems += 1
        unset = {}
        print(f"secrets: unavailable ({_short(exc)})")
    try:
        session, base = clients.rest("functions")
        states = status.functions_state(session, base, target)
    except Exception as exc:  # noqa: BLE001
        problems += 1
        states = {}
        print(f"functions: unavailable ({_short(exc)})")
    if states or unset:
        print("functions:")
    for name in status.FUNCTIONS if (states or unset) else ():
        missing = unset.get(name)
        configured = f"not configured: {', '.join(missing)} unset" if missing else ""
        line = f"  {target.function_name(name):<18} {states.get(name, '?'):<10} {configured}"
        print(line.rstrip())
    if any(unset.values()):
        print("  (run `svp cloud setup`)")
    problems += _show_execution_environments(target)
    try:
        job = scheduler.describe(target, clients.scheduler())
        outcome = f" ({job['outcome']})" if job["outcome"] else ""
        print(
            f"polling: {job['state']}, schedule {job['schedule']!r}; "
            f"last poll {job['last_poll']}{outcome}"
        )
    except Exception as exc:  # noqa: BLE001
        problems += 1
        print(f"polling: unavailable ({_short(exc)})")
    runtime = build_runtime(status.cloud_settings(settings, target))
    try:
        counts = status.job_counts(runtime)
        print(
            f"jobs: {counts['in_flight']} in flight, {counts['failed']} failed"
            f" ({counts['failed_dead_lettered']} of them dead-lettered)"
        )
    except Exception as exc:  # noqa: BLE001
        problems += 1
        print(f"jobs: unavailable ({_short(exc)})")
    try:
        waiting = status.dead_letters_waiting(runtime)
        total = sum(waiting.values())
        detail = ", ".join(f"{stage} {n}" for stage, n in waiting.items() if n)
        hint = " (`svp cloud replay --dry-run` lists them)" if total else ""
        print(f"dead letters waiting: {total}{f' ({detail})' if detail else ''}{hint}")
    except Exception as exc:  # noqa: BLE001
        problems += 1
        print(f"dead letters waiting: unavailable ({_short(exc)})")
    return 1 if problems else 0


def _show_execution_environments(target: Target) -> int:
    """One line: each child-starting function's environment, and what to run where it is not
    the one Terraform declares (a redeploy may reset it). 1 when it cannot be read."""
    from svp.cloud import execution

    try:
        seen = execution.describe(clients.rest("functions"), clients.rest("run"), target)
    except Exception as exc:  # noqa: BLE001 - one section missing is said, the rest shown
        print(f"execution environments: unavailable ({_short(exc)})")
        return 1
    wanted = {target.function_name(s): e for s, e in target.execution_environments.items()}
    shown = [
        name + " " + env + ("" if env == wanted[name] else f" (wants {wanted[name]})")
        for name, env in seen.items()
    ]
    hint = "" if seen.items() <= wanted.items() else " (run `svp cloud setup`)"
    print(f"execution environments: {', '.join(shown)}{hint}")
    return 0


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]


# -- replay ---------------------------------------------------------------------------------
def cmd_replay(args: argparse.Namespace, settings: Settings, target: Target) -> int:
    """`svp replay` with the deployment's project and prefix (no SVP_* to export)."""
    from svp.cloud.status import cloud_settings
    from svp.wiring import build_runtime

    runtime = build_runtime(cloud_settings(settings, target))
    return 0 if replay_and_report(runtime, args) is not None else 1


def replay_and_report(runtime: Any, args: argparse.Namespace) -> list | None:
    """Replay the dead letters `args` selects (--job, --stage, --limit, --dry-run), one line
    each on stdout; None, said on stderr, when replay stopped (what was not replayed stays)."""
    try:
        replayed = runtime.dead_letters.replay(
            job_id=args.job, stage=args.stage, limit=args.limit, dry_run=args.dry_run
        )
    except Exception as exc:  # noqa: BLE001 - e.g. Pub/Sub refused the publish: nothing acked
        print(
            f"svp: replay stopped, unreplayed messages stay dead-lettered: {exc}", file=sys.stderr
        )
        return None
    verb = "would replay" if args.dry_run else "replayed"
    for item in replayed:
        detail = f": {item.last_error}" if item.last_error else ""
        print(f"{verb} {item.stage} for job {item.job_id} (after {item.attempts} attempts{detail})")
    print(f"{len(replayed)} message(s) {verb}")
    return replayed


# -- logs -----------------------------------------------------------------------------------
def cmd_logs(args: argparse.Namespace, settings: Settings, target: Target) -> int:
    from svp.cloud import logs

    query = logs.build_query(target, args.job, args.function, args.hours, logs.now_utc())
    try:
        session, base = clients.rest("logging")
        entries = logs.fetch(session, base, target, query, args.limit)
    except Exception as exc:  # noqa: BLE001 - no credentials, no permission, no network
        print(f"svp: Cloud Logging's API is not available here ({_short(exc)}).", file=sys.stderr)
        print(f"The query:\n  {query.filter}")
        print(f"In the console:\n  {query.console_url}")
        print(f"With gcloud:\n  gcloud logging read '{query.filter}' --project={target.project}")
        return 1
    if not entries:
        print(f"no log lines in the last {args.hours:g} h for: {query.filter}", file=sys.stderr)
        return 0
    for entry in entries:
        print(logs.format_entry(entry))
    return 0
