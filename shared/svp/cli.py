"""`svp`: process one video, run the worker, inspect jobs, replay dead letters, serve the API."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from typing import Any

from svp.config import LOCAL_USER, ConfigError, Settings, load_settings
from svp.errors import StageError
from svp.log import setup_logging
from svp.messages import JobMessage
from svp.runtime import jobs
from svp.runtime.context import Runtime
from svp.topology import PIPELINE
from svp.wiring import build_runtime, dispatcher

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as `cat` ends when its reader left


def _local_runtime(settings: Settings) -> Runtime:
    if settings.uses_gcp:
        raise ConfigError("this command runs the pipeline locally: unset SVP_BACKEND=gcp")
    return build_runtime(settings)


# -- process -------------------------------------------------------------------------------
def cmd_process(args: argparse.Namespace, settings: Settings) -> int:
    from svp.cli_input import not_filled, schema_file, source_of
    from svp.disk import expire
    from svp.stages.targets import target_for_tag

    # What was typed is checked before any job is made (InputError: main prints it).
    source = source_of(args.source, settings.max_download_mb)
    schema = schema_file(args.schema) if args.schema else None
    runtime = _local_runtime(settings)
    expire(runtime)
    job_id = f"cli-{uuid.uuid4().hex[:12]}"
    link: dict[str, Any] = {"url": source.url, "tag": args.tag}
    if source.path is not None:
        # A reference, not a copy: the downloader stores the file's one copy (media.mp4).
        link = {"file": source.path.name, "path": str(source.path), "tag": args.tag}
    try:
        target = target_for_tag(runtime, args.tag, schema)
    except StageError as exc:
        print(f"svp: {exc.reason}", file=sys.stderr)
        return 2
    for prop in not_filled(schema or {}):
        print(f"svp: note: {prop} is left empty: the summary does not fill it", file=sys.stderr)
    runtime.state.create(jobs.JOBS, job_id, jobs.new_job(job_id, link, target, time.time()))
    runtime.publish_from("poller", JobMessage(job_id, "poller"))

    local = dispatcher(runtime)
    finished = threading.Event()
    worker = threading.Thread(
        target=local.run, kwargs={"stop": finished, "idle_exit": True}, daemon=True
    )
    started = time.monotonic()
    worker.start()
    try:
        job = _follow(runtime, job_id, worker, quiet=args.json)
    except KeyboardInterrupt:
        return _interrupted(runtime, job_id)
    finished.set()
    worker.join()
    local.close()
    return _finish_process(runtime, job, args.json, time.monotonic() - started)


def _finish_process(runtime: Runtime, job: jobs.Doc, as_json: bool, seconds: float) -> int:
    from svp.disk import after_process
    from svp.reasons import plain

    after_process(runtime, job)
    if job["status"] != "done":
        link = job["link"]
        where = f"{job.get('failed_stage')}: " if job.get("failed_stage") else ""
        reason = plain(job.get("error") or "the job did not finish", link.get("url") or "")
        print(f"svp: failed: {where}{reason} (svp jobs shows the details)", file=sys.stderr)
        return 1
    page = job["result"]
    if as_json:
        print(runtime.blobs.get_bytes(page["artifacts"]["properties"]).decode())
    else:
        print(runtime.blobs.get_bytes(page["artifacts"]["markdown"]).decode())
        print(f"Page: {page['page_url']}  ({seconds:.1f} s)", file=sys.stderr)
        if page.get("review"):
            print(f"svp: needs review: {page['review']}", file=sys.stderr)
    return 0


def _interrupted(runtime: Runtime, job_id: str) -> int:
    """Ctrl-C: the job ends as failed, saying where it stopped (not left "reading text"), and
    the process leaves at once: stages still running in threads die with it."""
    from svp.disk import after_process

    job = runtime.state.get(jobs.JOBS, job_id) or {}
    running = [
        s
        for s in PIPELINE
        if (job.get("stages") or {}).get(s, {}).get("state")
        not in ("pending", "done", "failed", None)
    ]
    where = f" during {', '.join(running)}" if running else ""
    reason = f"stopped by Ctrl-C{where}: run svp process again to start over"

    def stop(doc: jobs.Doc | None):
        failed, changed = jobs.fail(doc, running[0] if running else None, reason, now=time.time())
        for other in running[1:] if failed else ():
            failed["stages"][other].update(state="failed", error=reason, token=None, lease_until=0)
        return failed, changed

    runtime.state.update(jobs.JOBS, job_id, stop)
    after_process(runtime, runtime.state.get(jobs.JOBS, job_id) or job)
    print(f"\nsvp: {reason} (job {job_id})", file=sys.stderr)
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(EXIT_INTERRUPTED)  # the stage threads would hold a normal exit until they end


def _follow(runtime: Runtime, job_id: str, worker: threading.Thread, quiet: bool) -> jobs.Doc:
    """Print each stage's progress to stderr until the job ends (or the queue runs dry): a
    stage starting, retried (with its reason and the wait) or done."""
    shown: dict[str, tuple[str, int]] = {}
    while True:
        job = runtime.state.get(jobs.JOBS, job_id)
        assert job is not None
        for stage in PIPELINE:
            record = job["stages"][stage]
            seen = (record["state"], record.get("attempts") or 0)
            if shown.get(stage, ("pending", 0)) != seen:
                before = shown.get(stage, ("pending", 0))
                shown[stage] = seen
                # A retry announced while it waited is not announced again as it starts.
                announced = before[0] == "pending" and 0 < before[1] == seen[1] - 1
                line = _progress_line(runtime, job, stage, record, retry_shown=announced)
                if line and not quiet:
                    print(line, file=sys.stderr)
        if job["status"] in ("done", "failed") or not worker.is_alive():
            return job
        time.sleep(0.2)


def _progress_line(
    runtime: Runtime, job: jobs.Doc, stage: str, record: dict, retry_shown: bool
) -> str:
    """One stage's new state as a line: started, done, failed, or a retry with its reason
    (when it waits, "attempt 2 of 5 in 20 s"; a quick retry may be seen only as it starts)."""
    from svp.adapters.local_queue import backoff_seconds
    from svp.reasons import plain

    state, attempts = record["state"], record.get("attempts") or 0
    settings = runtime.settings
    retry = f"  ↻ {stage}: {plain(record.get('error'), job['link'].get('url') or '')}, attempt"
    if state == "done":
        return f"  ✓ {stage:<12} {record.get('duration_ms', 0) / 1000:6.1f} s"
    if state == "failed":
        return f"  ✗ {stage}"  # the reason follows once, in the last line
    if state == "pending" and attempts and record.get("error"):
        wait = backoff_seconds(attempts, settings.retry_min_seconds, settings.retry_max_seconds)
        return f"{retry} {attempts + 1} of {settings.max_attempts} in {wait:.0f} s"
    if state == "pending":
        return ""
    if attempts > 1 and record.get("error") and not retry_shown:
        return f"{retry} {attempts} of {settings.max_attempts}"
    return "" if attempts > 1 else f"  … {stage}"


# -- run -----------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from svp.accounts import notion_for, users
    from svp.runtime.dispatch import run_until_settled
    from svp.stages.poller import poll

    runtime = _local_runtime(settings)
    if notion_for(runtime, LOCAL_USER) is None and not users(runtime):
        return _no_notion(
            "`svp run` has no Link Database to poll (nor has anyone connected Notion through"
            " `svp serve`)"
        )
    local = dispatcher(runtime)
    status = local.runners.status
    try:
        if args.once:
            report = poll(runtime, status)
            run_until_settled(runtime, local)
            print(json.dumps(report.as_dict()))
            return 1 if report.errors else 0
        stop = threading.Event()
        worker = threading.Thread(
            target=local.run, kwargs={"stop": stop, "idle_exit": False}, daemon=True
        )
        worker.start()
        try:
            poll_forever(runtime, status, stop)
        except KeyboardInterrupt:
            stop.set()
            worker.join()
        return 0
    finally:
        local.close()


def poll_forever(runtime: Runtime, status, stop: threading.Event) -> None:
    """Poll every SVP_POLL_INTERVAL seconds until `stop`; a failing poll is logged, and the
    next one tries again (the loop never dies of one error)."""
    import logging

    from svp.disk import expire
    from svp.stages.poller import poll

    while not stop.is_set():
        try:
            expire(runtime)  # artifacts of ended jobs after SVP_KEEP_DAYS (svp.disk)
        except Exception:
            logging.getLogger("svp.cli").exception("cleaning the data folder failed: polling on")
        try:
            poll(runtime, status)
        except Exception:
            logging.getLogger("svp.cli").exception("poll failed: trying again next interval")
        stop.wait(runtime.settings.poll_interval_seconds)


# -- jobs ----------------------------------------------------------------------------------
def cmd_jobs(args: argparse.Namespace, settings: Settings) -> int:
    from svp.summary.cost import estimate

    runtime = build_runtime(settings)
    where = {"status": "failed"} if args.failed else None
    found = runtime.state.list(jobs.JOBS, where=where, limit=args.limit)
    if args.json:
        print(json.dumps([{**job, "cost": estimate(job, settings)} for job in found], indent=2))
        return 0
    if not found:
        print("no jobs")
    for job in found:
        _print_job(job, settings)
    if not settings.uses_gcp:
        from svp.disk import human, usage

        held = usage(settings.data_dir)
        print(
            f"{settings.data_dir} holds {human(held['total'])} (artifacts "
            f"{human(held['artifacts'])}, pages {human(held['output'])}); artifacts of ended jobs"
            f" are removed after {settings.keep_days:g} days (SVP_KEEP_DAYS), or by `svp clean`"
        )
    return 0


def _print_job(job: jobs.Doc, settings: Settings) -> None:
    from svp.reasons import plain
    from svp.summary.cost import describe, estimate

    link = job["link"]
    print(
        f"{job['job_id']}  {job['status']:<13} {link.get('tag', '')}  "
        f"{link.get('url') or link.get('file', '')}"
    )
    for stage in PIPELINE:
        record = job["stages"][stage]
        line = f"    {stage:<12} {record['state']:<8} attempts={record['attempts']}"
        if record.get("duration_ms") is not None:
            line += f" {record['duration_ms'] / 1000:.1f}s"
        if record.get("error"):
            line += f"  last error: {record['error']}"
        print(line)
    if job.get("error"):
        print(f"    reason: {plain(job['error'], link.get('url') or '')}")
    if job.get("result"):
        print(f"    page: {job['result'].get('page_url')}")
    print(f"    cost: {describe(estimate(job, settings))}")


# -- clean ---------------------------------------------------------------------------------
def cmd_clean(args: argparse.Namespace, settings: Settings) -> int:
    from svp.disk import expire, human, usage

    runtime = _local_runtime(settings)
    before = usage(settings.data_dir)["total"]
    freed = expire(runtime, keep_days=args.days)
    after = usage(settings.data_dir)["total"]
    print(
        f"removed the artifacts of {freed.jobs} ended job(s), {human(freed.bytes)}; "
        f"{settings.data_dir} went from {human(before)} to {human(after)}"
    )
    return 0


# -- replay --------------------------------------------------------------------------------
def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from svp.cloud.commands import replay_and_report

    runtime = build_runtime(settings)
    replayed = replay_and_report(runtime, args)
    if replayed is None:
        return 1
    if replayed and not (args.dry_run or args.no_run or settings.uses_gcp):
        local = dispatcher(runtime)
        local.run(idle_exit=True)
        local.close()
    return 0


# -- migrate -------------------------------------------------------------------------------
def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from svp.media.identity import video_key_from_url
    from svp.runtime.migrate import migrate

    done = migrate(build_runtime(settings).state, video_key_from_url, dry_run=args.dry_run)
    verb = "would be" if args.dry_run else "were"
    print(
        f"{done.jobs_seen} jobs: {done.jobs_upgraded} {verb} upgraded to version {jobs.SCHEMA}; "
        f"video claims for earlier pages: {done.claims_made} made, {done.claims_filled} filled, "
        f"{done.claims_kept} already there"
        + (f"; {done.errors} could not be migrated: run it again" if done.errors else "")
    )
    return 1 if done.errors else 0


# -- register ------------------------------------------------------------------------------
def cmd_register(args: argparse.Namespace, settings: Settings) -> int:
    from svp.notion.registry import Registry

    if args.what == "content-db" and not args.tag:
        print(
            "svp: register content-db needs --tag TAG (the tag whose links go to it)",
            file=sys.stderr,
        )
        return 2
    registry = Registry(build_runtime(settings))
    if args.what in ("link-db", "content-db") and not _has_notion(registry.runtime):
        return 2
    if args.what == "list":
        return _register_list(registry, settings, args.json)
    if args.what == "remove":
        return _register_remove(registry, args)
    if not args.ref:
        print(f"svp: register {args.what} needs the database's URL or id", file=sys.stderr)
        return 2
    try:
        warnings = _register_add(registry.runtime, args)
    except StageError as exc:
        print(f"svp: {exc.reason}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(f"  note: {warning}", file=sys.stderr)
    return 0


def _has_notion(runtime: Runtime) -> bool:
    from svp.accounts import notion_for

    if notion_for(runtime, LOCAL_USER) is not None:
        return True
    _no_notion("registering a database needs a Notion integration")
    return False


def _no_notion(why: str) -> int:
    """The one message (and exit code 2: configuration) for a missing NOTION_TOKEN."""
    print(
        f"svp: NOTION_TOKEN is not set: {why} (create an internal integration at "
        "notion.so/my-integrations, then export NOTION_TOKEN=...)",
        file=sys.stderr,
    )
    return 2


def _register_add(runtime: Runtime, args: argparse.Namespace) -> list[str]:
    from svp.accounts import notion_for
    from svp.notion import register

    if args.what == "link-db":
        saved, warnings = register.register_link_database(
            runtime, args.ref, fix=args.fix, notion=notion_for(runtime, LOCAL_USER)
        )
        print(f"registered Link Database {saved['title']!r} ({saved['data_source_id']})")
        return warnings
    if not args.tag:
        raise StageError("content-db needs --tag TAG")
    saved, warnings = register.register_content_database(
        runtime,
        args.ref,
        args.tag,
        prompt=args.prompt or "",
        many=args.many,
        language=args.language or "",
        fix=args.fix,
        notion=notion_for(runtime, LOCAL_USER),
    )
    print(
        f"registered Content Database {saved['title']!r} for tag {saved['tag']!r} "
        f"({len(saved['properties'])} properties)"
    )
    return warnings


def _register_list(registry, settings: Settings, as_json: bool) -> int:
    found = registry.all()
    if as_json:
        print(json.dumps(found, indent=2))
        return 0
    for item in found:
        title = item["title"] or "(untitled)"
        if item["kind"] == "link":
            print(f"link-db     {title}  {item['data_source_id']}")
            continue
        extra = "  many" if item.get("many") else ""
        extra += f"  prompt: {item['prompt']}" if item.get("prompt") else ""
        print(f"content-db  tag={item['tag']}  {title}  {item['data_source_id']}{extra}")
    for tag, ref in settings.content_databases.items():
        print(f"content-db  tag={tag}  {ref}  (from SVP_CONTENT_DATABASES)")
    for ref in settings.link_databases:
        print(f"link-db     {ref}  (from SVP_LINK_DATABASES)")
    if not found and not settings.content_databases and not settings.link_databases:
        print("nothing registered yet: see `svp register --help`")
    return 0


def _register_remove(registry, args: argparse.Namespace) -> int:
    from svp.notion.gateway import normalize_id

    if args.tag:
        removed = registry.remove_content(args.tag.strip().lower())
    elif args.ref:
        key = normalize_id(args.ref)
        links = [r for r in registry.all() if r["kind"] == "link"]
        match = next(
            (
                r["data_source_id"]
                for r in links
                if key in (r["data_source_id"].replace("-", ""), r["database_id"].replace("-", ""))
            ),
            key,
        )
        removed = registry.remove_link(match)
    else:
        print("svp: give a Link Database (URL or id) or --tag TAG", file=sys.stderr)
        return 2
    print("removed" if removed else "svp: no such registration", file=sys.stderr)
    return 0 if removed else 1


def cmd_webhook_token(args: argparse.Namespace, settings: Settings) -> int:
    """The tokens Notion (or anyone) sent to the webhook; --accept trusts one, locally."""
    from svp.notion.webhook import WebhookTokenError, accept_token, pending_tokens, stored_token

    runtime = build_runtime(settings)
    if args.accept is not None:
        try:
            accept_token(runtime, args.accept)
        except WebhookTokenError as exc:
            print(f"svp: {exc}", file=sys.stderr)
            return 2
        print("accepted: signed webhook events are processed from now on", file=sys.stderr)
        return 0
    pending = pending_tokens(runtime)
    if pending:
        for entry in pending:
            print(f"{entry['token']}\treceived {entry['received_at']}")
        where = (
            "run `svp cloud webhook-token --accept TOKEN`"
            if settings.uses_gcp
            else "run `svp webhook-token --accept TOKEN` with the token Notion accepted"
        )
        print(
            "svp: not trusted yet: paste the token into Notion's Webhooks tab; once Notion"
            f" shows the endpoint verified, {where}",
            file=sys.stderr,
        )
        return 0
    token = stored_token(runtime)
    if not token:
        print(
            "svp: no verification token yet: save the webhook URL in Notion's integration "
            "settings first, Notion then sends it",
            file=sys.stderr,
        )
        return 1
    print(token)
    return 0


# -- serve ---------------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """The API and status page on 127.0.0.1 (the app the api Cloud Function runs)."""
    from svp.api import create_app
    from svp.api.owner import new_token
    from svp.api.serving import serve
    from svp.notion.oauth import missing_settings

    runtime = _local_runtime(settings)
    token = new_token()
    app = create_app(runtime, owner_token=token)
    base = f"http://127.0.0.1:{args.port}"
    print(
        f"svp: your status page (this machine's jobs): {base}/?token={token}\n"
        f"     the API is under {base}/api/..., health at {base}/health; Ctrl-C stops",
        file=sys.stderr,
    )
    if missing := missing_settings(settings):
        print(
            f"svp: signing in with Notion, for several people, also needs {', '.join(missing)}"
            f" (redirect URI: {base}/auth/notion/callback)",
            file=sys.stderr,
        )
    stop = threading.Event()
    workers: list[threading.Thread] = []
    local = None
    if args.worker:
        local = dispatcher(runtime)
        workers.append(
            threading.Thread(
                target=local.run, kwargs={"stop": stop, "idle_exit": False}, daemon=True
            )
        )
        workers.append(
            threading.Thread(
                target=poll_forever,
                args=(runtime, local.runners.status, stop),
                daemon=True,
            )
        )
    for worker in workers:
        worker.start()
    try:
        serve(app, args.port)
    except OSError as exc:
        print(f"svp: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=10)
        if local is not None:
            local.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="svp", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every step (JSON)")
    sub = parser.add_subparsers(dest="command", required=True)

    process = sub.add_parser("process", help="run one video through all six stages locally")
    process.add_argument("source", help="a video URL or a local media file")
    process.add_argument("--tag", required=True, help="the Content Database's tag (cooking, ...)")
    process.add_argument("--schema", help="a Content Database schema file (name -> {type})")
    process.add_argument("--json", action="store_true", help="print the Notion properties JSON")
    process.set_defaults(func=cmd_process)

    run = sub.add_parser("run", help="poll Notion and process links until stopped")
    run.add_argument("--once", action="store_true", help="poll once, finish everything, exit")
    run.set_defaults(func=cmd_run)

    jobs_cmd = sub.add_parser("jobs", help="list jobs with each stage's state")
    jobs_cmd.add_argument("--failed", action="store_true", help="only failed jobs")
    jobs_cmd.add_argument("--json", action="store_true")
    jobs_cmd.add_argument("--limit", type=int, default=50)
    jobs_cmd.set_defaults(func=cmd_jobs)

    clean = sub.add_parser("clean", help="remove the artifacts of ended jobs (pages stay)")
    clean.add_argument(
        "--days",
        type=float,
        help="of jobs that ended this many days ago or more (default SVP_KEEP_DAYS; 0: all)",
    )
    clean.set_defaults(func=cmd_clean)

    replay = sub.add_parser("replay", help="re-queue dead-lettered messages")
    replay.add_argument("--job", help="only this job's messages")
    replay.add_argument("--stage", choices=PIPELINE, help="only this stage's dead letters")
    replay.add_argument("--limit", type=int)
    replay.add_argument("--dry-run", action="store_true", help="show what would be replayed")
    replay.add_argument("--no-run", action="store_true", help="re-queue without processing")
    replay.set_defaults(func=cmd_replay)

    mig = sub.add_parser("migrate", help="bring stored jobs to the current version (re-runnable)")
    mig.add_argument("--dry-run", action="store_true", help="count what would change")
    mig.set_defaults(func=cmd_migrate)

    reg = sub.add_parser("register", help="register Notion Link and Content Databases")
    reg.add_argument("what", choices=("link-db", "content-db", "list", "remove"))
    reg.add_argument("ref", nargs="?", help="the database's Notion URL or id")
    reg.add_argument("--tag", help="the tag whose links go to this Content Database")
    reg.add_argument("--prompt", help="extra guidance for the summary of this database")
    reg.add_argument("--many", action="store_true", help="one page per item the video presents")
    reg.add_argument("--language", help="write the summary in this language")
    reg.add_argument("--fix", action="store_true", help="add the missing properties it can")
    reg.add_argument("--json", action="store_true")
    reg.set_defaults(func=cmd_register)

    serve = sub.add_parser(
        "serve", help="the status page and API on 127.0.0.1 (a token for you; Notion sign-in)"
    )
    serve.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (8080)")
    serve.add_argument(
        "--worker",
        action="store_true",
        help="also poll Notion and process links, as `svp run` does",
    )
    serve.set_defaults(func=cmd_serve)

    hook = sub.add_parser("webhook-token", help="show the token Notion sent to verify the webhook")
    accept_help = (
        "trust TOKEN, the one Notion accepted, for signed events; locally only (on gcp the"
        " token is NOTION_WEBHOOK_TOKEN)"
    )
    hook.add_argument("--accept", nargs="?", const="", metavar="TOKEN", help=accept_help)
    hook.set_defaults(func=cmd_webhook_token)

    from svp.cloud.commands import add_parser as add_cloud_parser

    add_cloud_parser(sub)  # `svp cloud setup|webhook-token|poll|pause|resume|status|logs`
    return parser


def main(argv: list[str] | None = None) -> int:
    from svp.cli_input import InputError

    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"svp: {exc}", file=sys.stderr)
        return 2
    _logging(args)
    try:
        return args.func(args, settings)
    except ConfigError as exc:
        print(f"svp: {exc}", file=sys.stderr)
        return 2
    except InputError as exc:
        print(f"svp: {exc.message}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("\nsvp: stopped (Ctrl-C)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader left (`svp jobs --json | head -1`): not an error of ours. Point stdout
        # at /dev/null so the interpreter's last flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _logging(args: argparse.Namespace) -> None:
    """-v: every JSON log line on stderr (stdout carries the page, or its JSON, for pipes).
    Without it: `svp process` prints its own progress and one line per failure; the other
    commands print errors as one plain line each."""
    import logging

    from svp.log import setup_human_logging

    if args.verbose:
        setup_logging(stream="stderr")
    elif args.command == "process":
        setup_human_logging(logging.CRITICAL + 1)
    else:
        setup_human_logging(logging.ERROR)


if __name__ == "__main__":
    sys.exit(main())
