"""ROS 2 message types as rmw_cyclonedds puts them on the wire.

The interop peers play unmodified ROS 2 nodes with plain Cyclone DDS, so
every type here must match what a ROS 2 node sends byte for byte: the DDS
type name (`pkg::msg::dds_::Name_`), the field order and the field types of
the `.msg` files. Cyclone matches endpoints by type name, and rustdds sends
no type information at all, so a wrong name means silence and a wrong field
means garbage: both are caught by tests/interop_cyclone_wire.rs.

All types are keyless (ROS 2 topics have no key) and final (no XTypes
annotations), which makes Cyclone serialize them as plain XCDR1, like
rmw_cyclonedds does.
"""

from dataclasses import dataclass, field

from cyclonedds.domain import DomainParticipant
from cyclonedds.idl import IdlStruct
from cyclonedds.idl import types
from cyclonedds.qos import Policy, Qos
from cyclonedds.util import duration


@dataclass
class Time(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    """builtin_interfaces/msg/Time."""

    sec: types.int32 = 0
    nanosec: types.uint32 = 0


@dataclass
class Header(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    """std_msgs/msg/Header."""

    stamp: Time = field(default_factory=Time)
    frame_id: str = ""


@dataclass
class KeyValue(IdlStruct, typename="diagnostic_msgs::msg::dds_::KeyValue_"):
    """diagnostic_msgs/msg/KeyValue."""

    key: str = ""
    value: str = ""


@dataclass
class DiagnosticStatus(
    IdlStruct, typename="diagnostic_msgs::msg::dds_::DiagnosticStatus_"
):
    """diagnostic_msgs/msg/DiagnosticStatus. `byte level` is an IDL octet."""

    level: types.byte = 0
    name: str = ""
    message: str = ""
    hardware_id: str = ""
    values: types.sequence[KeyValue] = field(default_factory=list)


@dataclass
class DiagnosticArray(
    IdlStruct, typename="diagnostic_msgs::msg::dds_::DiagnosticArray_"
):
    """diagnostic_msgs/msg/DiagnosticArray."""

    header: Header = field(default_factory=Header)
    status: types.sequence[DiagnosticStatus] = field(default_factory=list)


@dataclass
class Quaternion(IdlStruct, typename="geometry_msgs::msg::dds_::Quaternion_"):
    """geometry_msgs/msg/Quaternion (ROS defaults to the identity)."""

    x: types.float64 = 0.0
    y: types.float64 = 0.0
    z: types.float64 = 0.0
    w: types.float64 = 1.0


@dataclass
class Vector3(IdlStruct, typename="geometry_msgs::msg::dds_::Vector3_"):
    """geometry_msgs/msg/Vector3."""

    x: types.float64 = 0.0
    y: types.float64 = 0.0
    z: types.float64 = 0.0


def _zeros9() -> list:
    return [0.0] * 9


@dataclass
class Imu(IdlStruct, typename="sensor_msgs::msg::dds_::Imu_"):
    """sensor_msgs/msg/Imu, all of it."""

    header: Header = field(default_factory=Header)
    orientation: Quaternion = field(default_factory=Quaternion)
    orientation_covariance: types.array[types.float64, 9] = field(
        default_factory=_zeros9
    )
    angular_velocity: Vector3 = field(default_factory=Vector3)
    angular_velocity_covariance: types.array[types.float64, 9] = field(
        default_factory=_zeros9
    )
    linear_acceleration: Vector3 = field(default_factory=Vector3)
    linear_acceleration_covariance: types.array[types.float64, 9] = field(
        default_factory=_zeros9
    )


# Level names of diagnostic_msgs/msg/DiagnosticStatus.
LEVEL_NAMES = {0: "ok", 1: "warn", 2: "error", 3: "stale"}


def stamp_now(now_ns: int) -> Time:
    """A builtin_interfaces Time from Unix nanoseconds."""
    return Time(sec=now_ns // 1_000_000_000, nanosec=now_ns % 1_000_000_000)


def qos_ros_default(xcdr2: bool = False) -> Qos:
    """rclcpp's default QoS profile: reliable, volatile, keep last 10.

    `xcdr2` makes a writer send XCDR2 (encapsulation 00 07) rather than the
    plain CDR (00 01) ROS 2 sends, to test what a peer does with it."""
    policies = [
        Policy.Reliability.Reliable(max_blocking_time=duration(milliseconds=100)),
        Policy.Durability.Volatile,
        Policy.History.KeepLast(10),
    ]
    if xcdr2:
        policies.append(Policy.DataRepresentation(use_xcdrv2_representation=True))
    return Qos(*policies)


def participant(domain: int) -> DomainParticipant:
    """A participant on `domain`.

    Cyclone reads its configuration from CYCLONEDDS_URI: on loopback without
    multicast the tests pass unicast peers (tests/support CYCLONE_LOOPBACK).
    """
    return DomainParticipant(domain)
