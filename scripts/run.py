#!/usr/bin/env python
"""Serve Jindu in the foreground: the web server and a background-job worker side by side.

``make run`` calls this after migrating and loading data. It starts

- gunicorn (a real WSGI server: several worker processes with threads, so a long request
  never blocks the next one) on ``--host``/``--port`` (default http://127.0.0.1:8000), and
- the job worker: ``manage.py db_worker`` (database-backed queue, the default) or, when
  ``REDIS_URL`` is set, ``manage.py rqworker`` with django-tasks-rq's job class,

prints the address and, in demo mode, the demo logins, and stops both on Ctrl-C or
SIGTERM. If either process exits on its own, the other is stopped too and the exit code
is non-zero, so a crash is never hidden behind a server that looks alive.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _banner(url: str) -> str:
    """The address and, in demo mode, the demo logins (read from the database)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jindu.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connections

    lines = ["", f"  Jindu 禁毒综合治理平台 · {url}", ""]
    if settings.JINDU_DEMO:
        from jindu.accounts.demo import DEMO_PASSWORD, demo_logins

        logins = demo_logins()
        if logins:
            width = max(len(d["username"]) for d in logins)
            lines.append(f"  演示账号 demo logins (password / 密码: {DEMO_PASSWORD})")
            lines += [f"    {d['username']:<{width}}  {'；'.join(d['roles'])} · {d['full_name']}" for d in logins]
        else:
            lines.append("  No demo users yet: run `manage.py seed_demo`.")
    else:
        lines.append("  Not in demo mode (JINDU_DEMO is not 1): sign in with your own account.")
    if not settings.JINDU_ENFORCE_OTP:
        lines.append("  Second factor (TOTP) for privileged roles is OFF (JINDU_ENFORCE_OTP=0).")
    worker = "RQ (REDIS_URL)" if os.environ.get("REDIS_URL") else "database worker"
    lines += ["", f"  Background jobs: {worker}. Press Ctrl-C to stop.", ""]
    connections.close_all()
    return "\n".join(lines)


def _commands(args) -> dict[str, list[str]]:
    python = sys.executable
    web = [
        python, "-m", "gunicorn", "jindu.wsgi:application",
        "--bind", f"{args.host}:{args.port}",
        "--workers", str(args.workers), "--threads", str(args.threads), "--worker-class", "gthread",
        "--timeout", "120", "--graceful-timeout", "10",
        "--access-logfile", "-", "--error-logfile", "-",
        # The control socket lives at one path per user: two instances would share it.
        "--no-control-socket",
    ]
    if os.environ.get("REDIS_URL"):
        worker = [python, "manage.py", "rqworker", os.environ.get("JINDU_JOBS_QUEUE", "default"),
                  "--job-class", "django_tasks_rq.backend.Job"]
    else:
        worker = [python, "manage.py", "db_worker", "--queue-name", "*", "--interval", "1", "--no-reload"]
    return {"web": web, "worker": worker}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=os.environ.get("JINDU_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("JINDU_PORT", "8000")))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("JINDU_WEB_WORKERS", "2")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("JINDU_WEB_THREADS", "4")))
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jindu.settings")

    print(_banner(f"http://{args.host}:{args.port}/"), flush=True)

    procs: dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(signum=None, frame=None):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # the children get the terminal's Ctrl-C themselves
    for name, cmd in _commands(args).items():
        procs[name] = subprocess.Popen(cmd)

    exit_code = 0
    try:
        while not stopping:
            for name, proc in procs.items():
                code = proc.poll()
                if code is not None:
                    print(f"jindu: {name} exited with code {code}; stopping.", file=sys.stderr, flush=True)
                    exit_code = code or 1
                    stopping = True
                    break
            time.sleep(0.5)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    print("jindu: stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
