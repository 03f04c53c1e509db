"""Plays an unmodified ROS 2 subscriber with plain Cyclone DDS.

    cyclone_reader.py --domain N --topic DDS_TOPIC --kind imu|diagnostics
                      [--reliable | --best-effort] [--depth N]

Stdout, one JSON object a line (flushed): `{"event":"ready"}` once the
reader exists, then per sample
  imu:          {"event":"sample","t":..,"frame_id":..,"node":..,"seq":..,"stamp":..}
  diagnostics:  {"event":"array","t":..,"statuses":[{"name","level","message",
                 "hardware_id","values":{k:v}}]}
`t` is the Unix time of reception; `stamp` the sample's header stamp.
`node` and `seq` come from a frame id `NODE/SEQ` (cyclone_ros_node.py);
any other frame id gives `null` for both. Exits on EOF of stdin.
"""

import argparse
import json
import sys
import threading
import time
from typing import Callable, List, Optional, Tuple

from cyclonedds.core import GuardCondition, ReadCondition, SampleState, ViewState
from cyclonedds.core import InstanceState, WaitSet
from cyclonedds.internal import InvalidSample
from cyclonedds.qos import Policy, Qos
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from ros_types import DiagnosticArray, Imu, participant

# Samples taken per wake-up: enough that a burst drains in one go.
TAKE_MAX = 256


def emit(event: dict) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def split_frame_id(frame_id: str) -> Tuple[Optional[str], Optional[int]]:
    """`NODE/SEQ` (the node name may itself contain slashes) -> (NODE, SEQ)."""
    node, sep, seq = frame_id.rpartition("/")
    if not sep or not seq.isdigit():
        return None, None
    return node, int(seq)


def imu_event(sample: Imu, t: float) -> dict:
    node, seq = split_frame_id(sample.header.frame_id)
    stamp = sample.header.stamp
    return {
        "event": "sample",
        "t": t,
        "frame_id": sample.header.frame_id,
        "node": node,
        "seq": seq,
        "stamp": stamp.sec + stamp.nanosec / 1e9,
    }


def diagnostics_event(sample: DiagnosticArray, t: float) -> dict:
    statuses = [
        {
            "name": s.name,
            "level": int(s.level),
            "message": s.message,
            "hardware_id": s.hardware_id,
            "values": {kv.key: kv.value for kv in s.values},
        }
        for s in sample.status
    ]
    return {"event": "array", "t": t, "statuses": statuses}


KINDS: dict = {
    "imu": (Imu, imu_event),
    "diagnostics": (DiagnosticArray, diagnostics_event),
}


def reader_qos(reliable: bool, depth: int) -> Qos:
    """ROS 2's subscriber QoS, volatile. The history depth is local to the
    reader and never part of matching; it is deeper than ROS's 10 so that a
    Python reader on a loaded machine does not drop samples of its own."""
    reliability = (
        Policy.Reliability.Reliable(max_blocking_time=duration(milliseconds=100))
        if reliable
        else Policy.Reliability.BestEffort
    )
    return Qos(reliability, Policy.Durability.Volatile, Policy.History.KeepLast(depth))


def watch_stdin(stop: threading.Event, wake: GuardCondition) -> None:
    """Reads stdin to its end, then wakes the waitset to stop."""
    for _ in sys.stdin:
        pass
    stop.set()
    wake.set(True)


def serve(
    reader: DataReader,
    to_event: Callable,
    waitset: WaitSet,
    data: ReadCondition,
    stop: threading.Event,
) -> None:
    while not stop.is_set():
        waitset.wait(duration(seconds=1))
        while True:
            samples = reader.take(N=TAKE_MAX, condition=data)
            t = time.time()
            for sample in samples:
                # Instance state changes (a writer gone) carry no data.
                if isinstance(sample, InvalidSample):
                    continue
                emit(to_event(sample, t))
            if len(samples) < TAKE_MAX:
                break


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domain", type=int, required=True)
    p.add_argument("--topic", required=True, help="DDS topic, e.g. rt/imu/data")
    p.add_argument("--kind", choices=sorted(KINDS), required=True)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--reliable", dest="reliable", action="store_true", default=True)
    mode.add_argument("--best-effort", dest="reliable", action="store_false")
    p.add_argument("--depth", type=int, default=1000, help="history depth (local)")
    args = p.parse_args(argv)
    if args.depth < 1:
        p.error("--depth must be at least 1")
    return args


def main() -> None:
    args = parse_args()
    data_type, to_event = KINDS[args.kind]
    dp = participant(args.domain)
    topic = Topic(dp, args.topic, data_type)
    reader = DataReader(dp, topic, qos=reader_qos(args.reliable, args.depth))
    data = ReadCondition(reader, SampleState.Any | ViewState.Any | InstanceState.Any)
    stop = threading.Event()
    wake = GuardCondition(dp)
    waitset = WaitSet(dp)
    waitset.attach(data)
    waitset.attach(wake)
    emit({"event": "ready"})
    threading.Thread(target=watch_stdin, args=(stop, wake), daemon=True).start()
    try:
        serve(reader, to_event, waitset, data, stop)
    except BrokenPipeError:
        pass


if __name__ == "__main__":
    main()
