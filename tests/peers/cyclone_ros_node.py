"""Plays an unmodified ROS 2 node with plain Cyclone DDS: an IMU driver that
publishes sensor_msgs/Imu and its own diagnostic_msgs/DiagnosticArray.

    cyclone_ros_node.py --domain N --node NAME [--rate HZ] [--diag-period S]
                        [--level L] [--message TEXT] [--imu-topic rt/imu/data]
                        [--xcdr2]

Stdin, one command a line: `level L [message...]`, `pause-imu`,
`resume-imu`, `quit`. EOF on stdin is `quit`.

Stdout, one JSON object a line (flushed): `ready` with both writer GUIDs
once the writers exist, `level` after each level change, `paused`,
`resumed`. Errors go to stderr.

Both streams run on absolute deadlines (no drift), and keep running while
stdin is read on its own thread.
"""

import argparse
import json
import sys
import threading
import time
from typing import List, Optional

from cyclonedds.pub import DataWriter
from cyclonedds.topic import Topic

from ros_types import (
    LEVEL_NAMES,
    DiagnosticArray,
    DiagnosticStatus,
    Header,
    Imu,
    KeyValue,
    participant,
    qos_ros_default,
    stamp_now,
)

DIAGNOSTICS_TOPIC = "rt/diagnostics"


def emit(event: dict) -> None:
    """One JSON line on stdout; a vanished reader ends the node."""
    try:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        raise SystemExit(0)


def default_message(level: int) -> str:
    return LEVEL_NAMES.get(level, f"level {level}")


def parse_level(text: str) -> int:
    level = int(text)
    if not 0 <= level <= 255:
        raise ValueError(f"level {level} does not fit a byte")
    return level


class Node:
    """The node's state and its two writers. Every write holds `lock`, so the
    stdin thread's immediate diagnostics never race the timer's."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.name: str = args.node
        self.level: int = args.level
        self.message: str = (
            args.message if args.message is not None else default_message(args.level)
        )
        self.seq = 0
        self.paused = False
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.dp = participant(args.domain)
        qos = qos_ros_default()
        imu_topic = Topic(self.dp, args.imu_topic, Imu, qos=qos)
        diag_topic = Topic(self.dp, DIAGNOSTICS_TOPIC, DiagnosticArray, qos=qos)
        writer_qos = qos_ros_default(xcdr2=args.xcdr2)
        self.imu_writer = DataWriter(self.dp, imu_topic, qos=writer_qos)
        self.diag_writer = DataWriter(self.dp, diag_topic, qos=writer_qos)
        # One sample reused: building the nested dataclasses at 1 kHz costs
        # more than serializing them.
        self.imu = Imu()
        self.imu.linear_acceleration.z = 9.81

    def ready_event(self) -> dict:
        return {
            "event": "ready",
            "node": self.name,
            "imu_writer": self.imu_writer.guid.hex,
            "diag_writer": self.diag_writer.guid.hex,
        }

    def publish_imu(self) -> None:
        with self.lock:
            if self.paused:
                return
            self.seq += 1
            self.imu.header.stamp = stamp_now(time.time_ns())
            self.imu.header.frame_id = f"{self.name}/{self.seq}"
            self.imu_writer.write(self.imu)

    def publish_diagnostics(self) -> None:
        with self.lock:
            status = DiagnosticStatus(
                level=self.level,
                name=f"{self.name}: IMU driver",
                message=self.message,
                hardware_id=self.name,
                values=[KeyValue("published", str(self.seq))],
            )
            array = DiagnosticArray(
                header=Header(stamp=stamp_now(time.time_ns())), status=[status]
            )
            self.diag_writer.write(array)

    def command(self, line: str) -> None:
        """Applies one stdin command; a bad one is reported, not fatal."""
        # The message is the rest of the line, spaces and all.
        words = line.split(maxsplit=2)
        if not words:
            return
        verb = words[0]
        if verb == "level":
            try:
                level = parse_level(words[1] if len(words) > 1 else "")
            except ValueError as e:
                print(f"bad command {line!r} (level L [message...]): {e}", file=sys.stderr)
                return
            with self.lock:
                self.level = level
                self.message = words[2] if len(words) > 2 else default_message(level)
            # At once, not at the next period: tests time the reaction.
            self.publish_diagnostics()
            emit({"event": "level", "level": level})
        elif verb == "pause-imu":
            with self.lock:
                self.paused = True
            emit({"event": "paused"})
        elif verb == "resume-imu":
            with self.lock:
                self.paused = False
            emit({"event": "resumed"})
        elif verb == "quit":
            self.stop.set()
        else:
            print(f"unknown command {line!r}", file=sys.stderr)

    def read_stdin(self) -> None:
        read_commands(self.command, self.stop)


def read_commands(command, stop: threading.Event) -> None:
    """Feeds stdin's lines to `command`. Whatever ends this (EOF, quit, a
    closed stdout) sets `stop`, which ends the peer."""
    try:
        for line in sys.stdin:
            command(line.strip())
            if stop.is_set():
                return
    finally:
        stop.set()


class Schedule:
    """A periodic deadline on the monotonic clock. Deadlines advance by whole
    periods from the start, so the rate never drifts; slots missed while the
    machine was busy are skipped rather than sent in a burst."""

    def __init__(self, period: float, start: float) -> None:
        self.period = period
        self.next = start

    def due(self, now: float) -> bool:
        if now < self.next:
            return False
        missed = int((now - self.next) / self.period)
        self.next += (missed + 1) * self.period
        return True


def run(node: Node, rate: float, diag_period: float) -> None:
    start = time.monotonic()
    imu = Schedule(1.0 / rate, start)
    diag = Schedule(diag_period, start)
    while not node.stop.is_set():
        now = time.monotonic()
        if imu.due(now):
            node.publish_imu()
        if diag.due(now):
            node.publish_diagnostics()
        wake = min(imu.next, diag.next)
        # Waiting on the stop event lets `quit` end the node at once.
        node.stop.wait(max(0.0, wake - time.monotonic()))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domain", type=int, required=True)
    p.add_argument("--node", required=True, help="node name, also the hardware id")
    p.add_argument("--rate", type=float, default=100.0, help="IMU samples per second")
    p.add_argument(
        "--diag-period", type=float, default=0.2, help="seconds between arrays"
    )
    p.add_argument("--level", type=parse_level, default=0, help="initial level")
    p.add_argument("--message", default=None, help="initial diagnostic message")
    p.add_argument("--imu-topic", default="rt/imu/data", help="DDS topic of the IMU")
    p.add_argument(
        "--xcdr2",
        action="store_true",
        help="write XCDR2 (encapsulation 00 07) instead of ROS 2's plain CDR",
    )
    args = p.parse_args(argv)
    if args.rate <= 0 or args.diag_period <= 0:
        p.error("--rate and --diag-period must be positive")
    return args


def main() -> None:
    args = parse_args()
    node = Node(args)
    emit(node.ready_event())
    threading.Thread(target=node.read_stdin, daemon=True).start()
    run(node, args.rate, args.diag_period)


if __name__ == "__main__":
    main()
