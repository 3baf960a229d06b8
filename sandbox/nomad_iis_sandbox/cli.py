"""`nomad-iis-sandbox serve …`: start the cluster, its Nomad API and one Management API per node,
write the ready file, and stop every process it started on SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import os
import shutil
import signal
import sys
import tempfile
import uuid

from aiohttp import web

from . import inspection, node_agent, nomad_app, winrm_wsman
from .cluster import Cluster
from .config import ConfigError, demo_config, load_config, resolve_credentials, resolve_winrm
from .observe import Observer
from .tls import ensure_certs, server_context


DEFAULT_WINRM_PORT = 5985


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nomad-iis-sandbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the sandbox cluster until SIGTERM/SIGINT")
    serve.add_argument("--config", help="cluster YAML (default: the built-in demo cluster)")
    serve.add_argument("--state-dir", help="allocation directories live here (default: a temp dir removed on exit)")
    serve.add_argument("--ready-file", help="write the ready JSON here once everything listens")
    serve.add_argument("--nomad-port", type=int, default=4646, help="Nomad HTTP API port (0: a free port)")
    serve.add_argument("--api-port", type=int, default=5004,
                       help="Management API port of the first node, the next nodes count up (0: free ports)")
    serve.add_argument("--api-key", help="Management API key of nodes whose config sets none (default: generated)")
    serve.add_argument("--winrm-port", type=int, default=None,
                       help="WinRM HTTP port of the first node (HTTPS: the next port); the next nodes count up by two "
                            "(0: free ports; default 5985, or a free port where that one is taken)")
    serve.add_argument("--jwt-secret", help="Management API JWT secret of nodes whose config sets none")
    serve.add_argument("--acl", action="store_true", help="enable Nomad ACLs (a management token is in the ready file)")
    serve.add_argument("--tls-dir", help="serve the Nomad API over HTTPS with mutual TLS, certificates from "
                                         "(or created in) this directory")
    serve.add_argument("--tls-optional-client-cert", action="store_true",
                       help="with --tls-dir: do not require client certificates (verify_https_client = false)")
    serve.add_argument("--inspect", action="store_true", help="serve the inspection endpoint /_sandbox")
    return parser


def ready_info(cluster: Cluster, nomad_addr: str, token: str | None, inspect_on: bool,
               tls_paths: dict | None) -> dict:
    info = {
        "pid": os.getpid(),
        "nomad_addr": nomad_addr,
        "nomad_token": token,
        "inspect_url": f"{nomad_addr}/_sandbox" if inspect_on else None,
        "state_dir": cluster.state_dir,
        "nodes": [{"id": n.id, "name": n.name, "management_api_url": n.management_api_url,
                   "api_key": n.api_key, "jwt_secret": n.jwt_secret, **winrm_facts(n)} for n in cluster.nodes],
        "allocs": [{"id": a.id, "job": a.job.id, "namespace": a.namespace, "task_group": a.group.name,
                    "node_id": a.node.id,
                    "tasks": {t.name: {"app_url": t.app_url()} for t in a.tasks.values()}}
                   for a in cluster.allocs.values()],
    }
    if tls_paths:
        info["tls"] = {"ca_cert": tls_paths["ca.pem"], "client_cert": tls_paths["client.pem"],
                       "client_key": tls_paths["client-key.pem"], "server_name": f"client.{cluster.cfg.region}.nomad"}
    return info


def winrm_facts(node) -> dict:
    """The node's WinRM listener for the ready file (nulls when it has none)."""
    users = node.cfg.winrm.users if node.winrm_port else None
    user, password = next(iter(users.items())) if users else (None, None)
    return {"winrm_url": f"http://127.0.0.1:{node.winrm_port}/wsman" if node.winrm_port else None,
            "winrm_https_url": f"https://127.0.0.1:{node.winrm_https_port}/wsman" if node.winrm_https_port else None,
            "winrm_user": user, "winrm_password": password}


async def start_winrm(cluster: Cluster, observer: Observer, ssl_context, strict: bool) -> list[web.AppRunner]:
    """One WinRM listener per node that has it on: HTTP, and HTTPS with --tls-dir. Unless the ports
    were asked for (`strict`), a taken default port gives way to a free one."""
    runners = []
    for node in cluster.nodes:
        if not node.cfg.winrm.enabled:
            continue
        state = winrm_wsman.WinrmNode(cluster, node)
        cluster.winrm_nodes.append(state)
        for https in ([False, True] if ssl_context else [False]):
            app = winrm_wsman.create_app(cluster, node, observer, state, https)
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            port = node.cfg.winrm.https_port if https else node.cfg.winrm.port
            site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context if https else None)
            try:
                await site.start()
            except OSError as exc:
                if strict or exc.errno != errno.EADDRINUSE:
                    raise
                site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context if https else None)
                await site.start()
            runners.append(runner)
            bound = site._server.sockets[0].getsockname()[1]
            if https:
                node.winrm_https_port = bound
            else:
                node.winrm_port = bound
    return runners


def write_atomic(path: str, text: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".ready-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


async def serve(args: argparse.Namespace) -> int:
    cfg = load_config(args.config) if args.config else demo_config()
    resolve_credentials(cfg, args.api_key, args.jwt_secret, args.api_port)
    resolve_winrm(cfg, DEFAULT_WINRM_PORT if args.winrm_port is None else args.winrm_port)
    own_state = args.state_dir is None
    state_dir = tempfile.mkdtemp(prefix="nomad-iis-sandbox-") if own_state else os.path.abspath(args.state_dir)
    os.makedirs(state_dir, exist_ok=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    cluster = Cluster(cfg, state_dir)
    observer = Observer()
    agents = node_agent.NodeAgents(cluster, observer)
    runners: list[web.AppRunner] = []
    try:
        await cluster.start()
        await agents.start_all()  # each node's Management API

        management_token = str(uuid.uuid4()) if args.acl else None
        tls_paths = ensure_certs(args.tls_dir, cfg.region) if args.tls_dir else None
        ssl_context = server_context(tls_paths, not args.tls_optional_client_cert) if tls_paths else None
        # WinRM's HTTPS listener authenticates with Basic or NTLM, not with client certificates.
        runners += await start_winrm(cluster, observer, server_context(tls_paths, False) if tls_paths else None,
                                     strict=args.winrm_port is not None)
        app = nomad_app.create_app(cluster, observer, acl=args.acl, management_token=management_token,
                                   tls=tls_paths is not None,
                                   tls_info={"paths": tls_paths or {},
                                             "verify_https_client": bool(tls_paths) and not args.tls_optional_client_cert})
        if args.inspect:
            inspection.add_routes(app, cluster, observer)
            node_agent.add_routes(app, agents)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.nomad_port, ssl_context=ssl_context)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]
        nomad_addr = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
        cluster.nomad_addr = nomad_addr

        text = json.dumps(ready_info(cluster, nomad_addr, management_token, args.inspect, tls_paths))
        if args.ready_file:
            write_atomic(args.ready_file, text)
        print(text, flush=True)
        await stop.wait()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        await agents.shutdown()
        await cluster.shutdown()
        if own_state:
            shutil.rmtree(state_dir, ignore_errors=True)
        if args.ready_file and os.path.exists(args.ready_file):
            os.remove(args.ready_file)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(serve(args))
    except ConfigError as exc:
        print(f"nomad-iis-sandbox: invalid config: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"nomad-iis-sandbox: {exc}", file=sys.stderr)
        return 1
