"""``cryptostream backfill``: one chunk plan (``cryptostream_model.backfill``), run here or in AWS.

On the embedded local stack (or an external emulator given with ``--endpoint``) the chunks run one after
another through the producer handler in this process, with a progress bar. Against AWS (``cli.target``
finds no local stack) or with ``--cloud``, the command starts the backfill state machine
(``<prefix>-backfill``), which plans the same chunks and invokes the producer Lambda for each. Either way
each chunk carries ``backfill: <backfill_id>/<chunk_id>``, so the producer keeps per-pair progress marks and
a rerun of the same request resumes without republishing what Kinesis accepted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.target import Target, TargetError, resolve
from cryptostream_model.backfill import BackfillPlan, Chunk, PlanError, plan_backfill

LEASE_WAIT_SECONDS = 5.0  # a chunk that found the interval's lease held waits for the other run, then retries
LEASE_WAITS = 60
STATE_MACHINE_SUFFIX = "backfill"


def chunk_result(chunk: Chunk, summary: dict[str, Any]) -> dict[str, Any]:
    """What the report shows for one chunk (the state machine's per-chunk result has the same fields)."""
    return {
        "chunk": chunk.id,
        "pairs": ",".join(chunk.pairs),
        "start": chunk.start,
        "end": chunk.end,
        "published": summary.get("published", 0),
        "skipped_seen": summary.get("skipped_seen", 0),
        "failed_pairs": summary.get("failed_pairs") or {},
        # pairs the source's daily request budget left unrequested: not done, a rerun resumes them
        "deferred_pairs": summary.get("deferred_pairs") or {},
        "ok": not summary.get("failed_pairs") and not summary.get("deferred_pairs") and "skipped" not in summary,
    }


def run_here(
    plan: BackfillPlan,
    produce: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    console: Console,
    sleep: Callable[[float], None] = time.sleep,
    show_progress: bool = True,
) -> list[dict[str, Any]]:
    """Run every chunk through ``produce`` (the producer handler), paced by the plan; per-chunk results."""
    results: list[dict[str, Any]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[bars]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not show_progress, transient=False) as progress:
        task = progress.add_task(f"backfill {plan.backfill_id}", total=len(plan.chunks), bars="0 bars published")
        published = 0
        for index, chunk in enumerate(plan.chunks):
            event = chunk.producer_event(plan.interval) | {"backfill": f"{plan.backfill_id}/{chunk.id}"}
            summary = produce(event)
            waits = 0
            # a scheduled run of the interval is under way (a spent daily budget is reported as not run instead)
            while str(summary.get("skipped", "")).startswith("lease held") and waits < LEASE_WAITS:
                waits += 1
                sleep(LEASE_WAIT_SECONDS)
                summary = produce(event)
            results.append(chunk_result(chunk, summary))
            published += int(summary.get("published", 0))
            progress.update(task, advance=1, bars=f"{published} bars published")
            if index + 1 < len(plan.chunks) and summary.get("alphavantage_requests"):
                sleep(plan.pause_seconds)  # the next run's requests stay inside the source's rate budget
    return results


def state_machine_arn(target: Target, name: str) -> str:
    client = target.clients.client("stepfunctions")
    try:
        for page in client.get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:
                if machine["name"] == name:
                    return machine["stateMachineArn"]
    except Exception as exc:  # botocore's errors: no credentials, endpoint down, access denied
        raise TargetError(f"cannot list state machines at {target.describe()}: {exc}") from None
    raise TargetError(f"state machine {name!r} not found at {target.describe()}: is the stack deployed?")


def start_in_cloud(target: Target, name: str, request: dict[str, Any], plan: BackfillPlan) -> dict[str, Any]:
    """Start the backfill state machine with the request; the execution's name says which backfill it is."""
    arn = state_machine_arn(target, name)
    execution_name = f"{plan.backfill_id}-{int(time.time())}"
    try:
        started = target.clients.client("stepfunctions").start_execution(
            stateMachineArn=arn, name=execution_name, input=json.dumps(request)
        )
    except Exception as exc:
        raise TargetError(f"cannot start {name} at {target.describe()}: {exc}") from None
    return {"execution_arn": started["executionArn"], "backfill_id": plan.backfill_id, "chunks": len(plan.chunks),
            "bars": plan.bars}


def _print_results(console: Console, results: list[dict[str, Any]]) -> None:
    table = Table(title="backfill chunks")
    for column in ("chunk", "pairs", "start", "end", "published", "skipped_seen", "failed"):
        table.add_column(column, justify="right" if column in ("published", "skipped_seen") else "left")
    for row in results:
        reasons = {**row["deferred_pairs"], **row["failed_pairs"]}
        failed = "; ".join(f"{pair}: {reason}" for pair, reason in reasons.items())
        table.add_row(row["chunk"], row["pairs"], row["start"], row["end"], str(row["published"]),
                      str(row["skipped_seen"]), failed[:80])
    console.print(table)


def backfill(
    pairs: Annotated[str, typer.Option("--pairs", help="Comma-separated pairs, e.g. BTC-USD,ETH-USD.")],
    start: Annotated[str, typer.Option("--start", help="First bar time (ISO-8601; naive = UTC).")],
    end: Annotated[str, typer.Option("--end", help="Last bar time (ISO-8601; naive = UTC).")],
    interval: Annotated[str, typer.Option("--interval", help="1min|5min|15min|30min|60min|1d")] = "5min",
    source: Annotated[str, typer.Option("--source", help="Market data source.")] = "alphavantage",
    max_bars_per_run: Annotated[int | None, typer.Option(help="Bars per producer run (default: the source's).")] = None,
    max_pairs_per_run: Annotated[int | None, typer.Option(help="Pairs (requests) per run (default: the source's).")] = (
        None
    ),
    requests_per_minute: Annotated[
        float | None, typer.Option(help="The source's rate budget, requests a minute (default: its own).")
    ] = None,
    cloud: Annotated[
        bool, typer.Option("--cloud", help="Start the state machine even at an --endpoint (an emulator).")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the chunk plan and run nothing.")] = False,
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="AWS-compatible endpoint.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Backfill a range in chunks that each fit one producer run and the source's rate budget; resumable."""
    console = Console()
    request: dict[str, Any] = {"source": source, "pairs": pairs, "interval": interval, "start": start, "end": end}
    limits = {"max_bars_per_run": max_bars_per_run, "max_pairs_per_run": max_pairs_per_run,
              "requests_per_minute": requests_per_minute}
    request |= {key: value for key, value in limits.items() if value is not None}
    try:
        plan = plan_backfill(request)
    except PlanError as exc:
        raise ValueError(str(exc)) from None  # cli.main prints it as one line, exit 2
    if dry_run:
        if as_json:
            print(json.dumps(plan.to_dict()))
        else:
            console.print(f"backfill {plan.backfill_id}: {len(plan.chunks)} chunks, {plan.bars} bars, "
                          f"{plan.pause_seconds:g} s between runs")
            table = Table(title="chunk plan")
            for column in ("chunk", "pairs", "start", "end", "bars"):
                table.add_column(column, justify="right" if column == "bars" else "left")
            for chunk in plan.chunks:
                table.add_row(chunk.id, ",".join(chunk.pairs), chunk.start, chunk.end, str(chunk.bars))
            console.print(table)
        return
    target = resolve(endpoint)
    if target.kind == "aws" or cloud:
        from cryptostream_config.deployment import load_deployment_config

        name = load_deployment_config().resource_name(STATE_MACHINE_SUFFIX)
        started = start_in_cloud(target, name, request | {"pairs": list(plan.pairs)}, plan)
        if as_json:
            print(json.dumps(started))
        else:
            console.print(f"started {name}: {started['execution_arn']} ({started['chunks']} chunks, "
                          f"{started['bars']} bars); rerun the same command to resume after a failure")
        return
    from cli.stack_commands import produce_once

    results = run_here(plan, lambda event: produce_once(target, event), console=console, show_progress=not as_json)
    if as_json:
        print(json.dumps({"backfill_id": plan.backfill_id, "chunks": results}))
    else:
        _print_results(console, results)
    if not all(row["ok"] for row in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``backfill`` command to the main ``cryptostream`` application."""
    app.command("backfill")(backfill)
