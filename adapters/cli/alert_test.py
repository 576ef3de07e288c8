"""`alert-test [--config FILE]`: send one test alert to every configured channel (alerts.channels)
and say which worked. Each channel gets its configured retries. Exit status: 0 every channel
took it, 1 at least one failed, 2 no channel configured or a secret's environment variable unset.
Nothing here calls the venue; no URL or token is ever printed."""
from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from typing import Mapping, TextIO

from adapters.operator.alerts import Alert, AlertSetupError, ChannelWorker, Post, build_channels, http_post
from config.loader import ConfigError, load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("alert-test", help="send a test alert to every configured channel")
    parser.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help="YAML with the alerts.channels to test")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None,
        environ: Mapping[str, str] | None = None, post: Post = http_post) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        config = load_config(getattr(args, "config", None))
        channels = build_channels(config.alerts.channels, os.environ if environ is None else environ)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=err)
        return 2
    except AlertSetupError as exc:
        print(f"error: {exc}", file=err)
        return 2
    if not channels:
        print("error: no alert channels configured (alerts.channels in the configuration; see the README)", file=err)
        return 2
    a = config.alerts
    alert = Alert("TEST", datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "test alert from `python run.py alert-test`: if you read this, this channel works",
                  action="nothing (a test)")
    failed = 0
    for channel in channels:
        worker = ChannelWorker(channel, queue_size=1, max_retries=a.max_retries,
                               backoff_base_s=float(a.backoff_base_secs), timeout_s=float(a.timeout_secs), post=post)
        error = worker.deliver(alert)
        worker.close(1.0)
        if error is None:
            print(f"{channel.name} ({channel.kind}): sent", file=out)
        else:
            failed += 1
            print(f"{channel.name} ({channel.kind}): FAILED after {a.max_retries + 1} tries: {error}", file=out)
    print(f"{len(channels) - failed} of {len(channels)} channels worked", file=out)
    return 1 if failed else 0
