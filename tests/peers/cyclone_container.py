"""Plays a ROS 2 component container with plain Cyclone DDS: several IMU
driver nodes in one process, hence one DDS participant, as rclcpp has done
since Foxy. Each node has its own IMU writer on the same topic and its own
/diagnostics writer, and the process publishes rmw's `ros_discovery_info`
(rmw_dds_common/ParticipantEntitiesInfo, 16-byte GIDs as from Iron on)
saying which writer belongs to which node: the only way a subscriber can
tell the nodes' writers apart.

    cyclone_container.py --domain N --nodes imu_a,imu_b [--rate HZ]
                         [--diag-period S] [--imu-topic rt/imu/data]

Stdin, one command a line: `level NODE L [message...]`, `quit`; EOF is
`quit`. Stdout, JSON lines: `ready` with each node's writer GUIDs, `level`.
"""

import argparse
import json
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List

from cyclonedds.core import Qos, Policy
from cyclonedds.idl import IdlStruct, types
from cyclonedds.pub import DataWriter
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from cyclone_ros_node import (
    DIAGNOSTICS_TOPIC,
    Schedule,
    default_message,
    emit,
    parse_level,
    read_commands,
)
from ros_types import (
    DiagnosticArray,
    DiagnosticStatus,
    Header,
    Imu,
    KeyValue,
    participant,
    qos_ros_default,
    stamp_now,
)


@dataclass
class Gid(IdlStruct, typename="rmw_dds_common::msg::dds_::Gid_"):
    data: types.array[types.uint8, 16] = field(default_factory=lambda: [0] * 16)


@dataclass
class NodeEntitiesInfo(IdlStruct, typename="rmw_dds_common::msg::dds_::NodeEntitiesInfo_"):
    node_namespace: str = "/"
    node_name: str = ""
    reader_gid_seq: types.sequence[Gid] = field(default_factory=list)
    writer_gid_seq: types.sequence[Gid] = field(default_factory=list)


@dataclass
class ParticipantEntitiesInfo(
    IdlStruct, typename="rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_"
):
    gid: Gid = field(default_factory=Gid)
    node_entities_info_seq: types.sequence[NodeEntitiesInfo] = field(default_factory=list)


def gid(entity) -> Gid:
    return Gid(data=list(entity.guid.bytes))


class Container:
    def __init__(self, args: argparse.Namespace) -> None:
        self.names: List[str] = args.nodes.split(",")
        self.levels: Dict[str, int] = {n: 0 for n in self.names}
        self.seq: Dict[str, int] = {n: 0 for n in self.names}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.dp = participant(args.domain)
        qos = qos_ros_default()
        imu_topic = Topic(self.dp, args.imu_topic, Imu, qos=qos)
        diag_topic = Topic(self.dp, DIAGNOSTICS_TOPIC, DiagnosticArray, qos=qos)
        self.imu_writers = {n: DataWriter(self.dp, imu_topic, qos=qos) for n in self.names}
        self.diag_writers = {n: DataWriter(self.dp, diag_topic, qos=qos) for n in self.names}
        # As rmw: reliable, transient-local, keep last 1.
        info_qos = Qos(
            Policy.Reliability.Reliable(duration(milliseconds=100)),
            Policy.Durability.TransientLocal,
            Policy.History.KeepLast(1),
        )
        info_topic = Topic(self.dp, "ros_discovery_info", ParticipantEntitiesInfo, qos=info_qos)
        self.info_writer = DataWriter(self.dp, info_topic, qos=info_qos)
        self.info_writer.write(
            ParticipantEntitiesInfo(
                gid=gid(self.dp),
                node_entities_info_seq=[
                    NodeEntitiesInfo(
                        node_namespace="/",
                        node_name=n,
                        writer_gid_seq=[gid(self.imu_writers[n]), gid(self.diag_writers[n])],
                    )
                    for n in self.names
                ],
            )
        )
        self.imu = Imu()
        self.imu.linear_acceleration.z = 9.81

    def ready_event(self) -> dict:
        return {
            "event": "ready",
            "nodes": {
                n: {"imu_writer": self.imu_writers[n].guid.hex, "diag_writer": self.diag_writers[n].guid.hex}
                for n in self.names
            },
        }

    def publish_imu(self) -> None:
        with self.lock:
            for n in self.names:
                self.seq[n] += 1
                self.imu.header.stamp = stamp_now(time.time_ns())
                self.imu.header.frame_id = f"{n}/{self.seq[n]}"
                self.imu_writers[n].write(self.imu)

    def publish_diagnostics(self, only: str = "") -> None:
        with self.lock:
            for n in self.names:
                if only and n != only:
                    continue
                status = DiagnosticStatus(
                    level=self.levels[n],
                    name=f"{n}: IMU driver",
                    message=default_message(self.levels[n]),
                    hardware_id="imu_board",  # both nodes on one board: no help naming them
                    values=[KeyValue("published", str(self.seq[n]))],
                )
                header = Header(stamp=stamp_now(time.time_ns()))
                self.diag_writers[n].write(DiagnosticArray(header=header, status=[status]))

    def command(self, line: str) -> None:
        words = line.split(maxsplit=3)
        if not words:
            return
        if words[0] == "level" and len(words) >= 3 and words[1] in self.levels:
            try:
                level = parse_level(words[2])
            except ValueError as e:
                print(f"bad command {line!r}: {e}", file=sys.stderr)
                return
            with self.lock:
                self.levels[words[1]] = level
            self.publish_diagnostics(only=words[1])
            emit({"event": "level", "node": words[1], "level": level})
        elif words[0] == "quit":
            self.stop.set()
        else:
            print(f"unknown command {line!r} (level NODE L, quit)", file=sys.stderr)

    def read_stdin(self) -> None:
        read_commands(self.command, self.stop)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domain", type=int, required=True)
    p.add_argument("--nodes", required=True, help="comma-separated node names")
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--diag-period", type=float, default=0.2)
    p.add_argument("--imu-topic", default="rt/imu/data")
    args = p.parse_args()
    container = Container(args)
    emit(container.ready_event())
    threading.Thread(target=container.read_stdin, daemon=True).start()
    start = time.monotonic()
    imu = Schedule(1.0 / args.rate, start)
    diag = Schedule(args.diag_period, start)
    while not container.stop.is_set():
        now = time.monotonic()
        if imu.due(now):
            container.publish_imu()
        if diag.due(now):
            container.publish_diagnostics()
        container.stop.wait(max(0.0, min(imu.next, diag.next) - time.monotonic()))


if __name__ == "__main__":
    main()
