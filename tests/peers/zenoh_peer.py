"""A Zenoh application on the other side of `vigil bridge zenoh`.

It joins the bridge as a Zenoh peer (`--connect tcp/127.0.0.1:PORT`, or
`--listen` for a bridge that connects to it; multicast scouting off) and
prints one JSON line per thing it sees:

  {"event": "ready", "zid": ...}
  {"event": "advert", "kind": "put"|"delete", "key", "producer", "topic",
   "origin", "state", "capabilities", "signed"}  every advert key sample
  {"event": "alive", "kind": "put"|"delete", "key"}   every liveliness change
  {"event": "registry", "adverts": [...]}        reply of `<prefix>/registry`
  {"event": "best", ...}                         reply of `<prefix>/best/<topic>`
  {"event": "data", "key", "producer", "seq", "count"}
                                                 samples of a followed key
                                                 (the 1st, 10th, every 50th)
  {"event": "from", "key", "producer", "previous", "attachment", "seq"}
                                                 the first sample of a key from
                                                 another producer than the last
  {"event": "declared", "key", "switches", ...}  reply of `<prefix>/follow`
  {"event": "switch", "key", "producer", ...}    a followed stream's switch event
  {"event": "advertised", "producer", "key"}     a producer of its own is up
  {"event": "silenced"|"resumed", "producer"}    its samples stopped/restarted
  {"event": "state"|"caps", "producer", ...}     its advert re-put
  {"event": "error", "message"}                  a command it could not do

Commands, from the flags or one per line on stdin:

  advertise ID [KEY=VALUE ...]   a producer of its own: advert (origin zenoh),
                                 liveliness token, a queryable answering its
                                 advert, samples at --rate as encapsulated CDR
  state ID STATE                 re-put ID's advert with another health state
  caps ID [KEY=VALUE ...]        re-put ID's advert with these capabilities
                                 (replacing all of them)
  silence ID                     stop publishing ID's samples (advert, token
                                 and session stay: alive but silent)
  resume ID                      publish ID's samples again
  put KEY TEXT                   put raw TEXT on KEY (malformed adverts)
  token KEY                      declare a bare liveliness token
  registry                       ask `<prefix>/registry`
  best TOPIC QUERY...            ask `<prefix>/best/TOPIC?query=QUERY`
  follow KEY                     subscribe to KEY and count its samples
  follow-best TOPIC QUERY...     ask best, then follow the answer's data key
  declare QUERY...               declare a followed stream on `<prefix>/follow`,
                                 then follow its key and its switch events
  admin SELECTOR                 get SELECTOR (a router's admin space): one
                                 "admin" line per reply {key, value}, then
                                 {"event": "admin_done", "replies": N}
  quit

With `--key FILE` (a private key `vigil keygen` wrote), its own adverts
carry `timestamp_ns` and are signed as vigil's Zenoh bridge reads them:
Ed25519 over b"vigil/zenoh-advert/1\0" then the advert's JSON text, the
signature appended as the last member `"signature"` (base64 of public key
then signature).

Samples are vigil's `SyntheticSample` {producer: string, seq: u64,
source_ts_ns: u64, period_ns: u64} in CDR little endian: the encapsulation
header 00 01 00 00, then the string as a u32 length (with its NUL), the
bytes and the NUL, padding to 8 bytes from the start of the body, the
three u64.
"""

import argparse
import base64
import json
import struct
import sys
import threading
import time

import zenoh
from cryptography.hazmat.primitives import serialization

LOCK = threading.Lock()


def emit(event, **fields):
    fields = {"event": event, "t": time.time(), **fields}
    with LOCK:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()


def encode_sample(producer, seq, ts_ns, period_ns):
    text = producer.encode() + b"\0"
    body = struct.pack("<I", len(text)) + text
    body += b"\0" * (-len(body) % 8)
    body += struct.pack("<QQQ", seq, ts_ns, period_ns)
    return b"\x00\x01\x00\x00" + body


def decode_sample(payload):
    """(producer, seq) of an encapsulated SyntheticSample, or None."""
    if len(payload) < 8 or payload[:2] != b"\x00\x01":
        return None
    body = payload[4:]
    (length,) = struct.unpack_from("<I", body, 0)
    end = 4 + length
    if length == 0 or end > len(body):
        return None
    producer = body[4 : end - 1].decode(errors="replace")
    at = end + (-end % 8)
    if at + 24 > len(body):
        return None
    seq, _ts, _period = struct.unpack_from("<QQQ", body, at)
    return producer, seq


def parse_value(text):
    """Capabilities as vigil writes them: plain numbers as numbers."""
    try:
        return float(text) if "." in text or "e" in text.lower() else int(text)
    except ValueError:
        return text


class Peer:
    def __init__(self, args):
        self.args = args
        self.prefix = args.prefix
        self.key = None
        if args.key:
            with open(args.key, "rb") as f:
                self.key = serialization.load_pem_private_key(f.read(), password=None)
        conf = zenoh.Config()
        conf.insert_json5("mode", json.dumps("peer"))
        conf.insert_json5("connect/endpoints", json.dumps(args.connect))
        conf.insert_json5("listen/endpoints", json.dumps(args.listen))
        conf.insert_json5("scouting/multicast/enabled", "false")
        self.session = zenoh.open(conf)
        self.keep = []  # declared entities live as long as the peer
        self.producers = {}
        self.counts = {}
        self.last_producer = {}
        if args.watch:
            self.keep.append(
                self.session.declare_subscriber(f"{self.prefix}/adverts/**", self.on_advert)
            )
            self.keep.append(
                self.session.liveliness().declare_subscriber(
                    f"{self.prefix}/alive/**", self.on_alive, history=True
                )
            )
            # Adverts put before this peer joined: ask for them (the
            # bridge answers for its DDS producers).
            for reply in self.session.get(f"{self.prefix}/adverts/**", timeout=10.0):
                if reply.ok is not None:
                    self.on_advert(reply.ok, via="query")
        emit("ready", zid=str(self.session.zid()))

    # ---- what it sees ----

    def on_advert(self, sample, via="put"):
        key = str(sample.key_expr)
        kind = "put" if sample.kind == zenoh.SampleKind.PUT else "delete"
        fields = {"kind": kind, "key": key, "via": via}
        if sample.kind == zenoh.SampleKind.PUT:
            try:
                advert = json.loads(sample.payload.to_bytes())
                fields.update(
                    producer=advert.get("producer"),
                    topic=advert.get("topic"),
                    origin=advert.get("origin"),
                    state=(advert.get("health") or {}).get("state"),
                    reachable=advert.get("reachable"),
                    capabilities=advert.get("capabilities"),
                    signed="signature" in advert,
                )
            except (ValueError, AttributeError) as e:
                fields.update(error=str(e))
        else:
            fields.update(producer=key.rsplit("/", 1)[-1])
        emit("advert", **fields)

    def on_alive(self, sample):
        key = str(sample.key_expr)
        kind = "put" if sample.kind == zenoh.SampleKind.PUT else "delete"
        emit("alive", kind=kind, key=key, producer=key.rsplit("/", 1)[-1])

    def on_data(self, sample):
        key = str(sample.key_expr)
        count = self.counts.get(key, 0) + 1
        self.counts[key] = count
        decoded = decode_sample(sample.payload.to_bytes())
        producer, seq = decoded if decoded else (None, None)
        previous = self.last_producer.get(key)
        if producer != previous:
            self.last_producer[key] = producer
            attachment = sample.attachment.to_string() if sample.attachment is not None else None
            emit("from", key=key, producer=producer, previous=previous, attachment=attachment, seq=seq)
        if count in (1, 10) or count % 50 == 0:
            emit("data", key=key, producer=producer, seq=seq, count=count)

    def on_switch(self, sample):
        try:
            body = json.loads(sample.payload.to_bytes())
        except ValueError as e:
            emit("switch", error=f"not JSON: {e}")
            return
        emit("switch", **body)

    # ---- what it does ----

    def advert_json(self, producer, topic, caps, state):
        advert = {
            "version": 1,
            "producer": producer,
            "topic": topic,
            "type_name": self.args.type,
            "origin": "zenoh",
            "capabilities": caps,
            "health": {"state": state, "confidence": 1.0},
        }
        if self.key is None:
            return json.dumps(advert)
        advert["timestamp_ns"] = time.time_ns()
        body = json.dumps(advert)
        signature = self.key.sign(b"vigil/zenoh-advert/1\0" + body.encode())
        public = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        value = base64.b64encode(public + signature).decode()
        return body[:-1] + ',"signature":"' + value + '"}'

    def advertise(self, producer, caps):
        topic = self.args.topic
        advert_key = f"{self.prefix}/adverts/{topic}/{producer}"
        entry = {"caps": caps, "state": "OK", "advert_key": advert_key, "topic": topic}
        self.producers[producer] = entry

        def answer(query):
            query.reply(advert_key, self.advert_json(producer, topic, entry["caps"], entry["state"]))

        # Answers a bridge that joins after the put.
        entry["queryable"] = self.session.declare_queryable(advert_key, answer)
        self.session.put(advert_key, self.advert_json(producer, topic, caps, "OK"))
        entry["token"] = self.session.liveliness().declare_token(
            f"{self.prefix}/alive/{topic}/{producer}"
        )
        data_key = f"{self.prefix}/data/{topic}/{producer}"
        publisher = self.session.declare_publisher(data_key, encoding=zenoh.Encoding.APPLICATION_CDR)
        entry["publisher"] = publisher
        period_ns = int(1e9 / self.args.rate)

        def publish():
            seq = 0
            next_at = time.monotonic()
            while entry.get("running", True):
                seq += 1
                if not entry.get("silent", False):
                    publisher.put(encode_sample(producer, seq, time.time_ns(), period_ns))
                next_at += period_ns / 1e9
                time.sleep(max(0.0, next_at - time.monotonic()))

        threading.Thread(target=publish, daemon=True).start()
        emit("advertised", producer=producer, key=advert_key, data=data_key)

    def set_state(self, producer, state):
        entry = self.producers[producer]
        entry["state"] = state
        self.session.put(
            entry["advert_key"], self.advert_json(producer, entry["topic"], entry["caps"], state)
        )
        emit("state", producer=producer, state=state)

    def set_caps(self, producer, caps):
        entry = self.producers[producer]
        entry["caps"] = caps
        self.session.put(
            entry["advert_key"], self.advert_json(producer, entry["topic"], caps, entry["state"])
        )
        emit("caps", producer=producer, capabilities=caps)

    def set_silent(self, producer, silent):
        self.producers[producer]["silent"] = silent
        emit("silenced" if silent else "resumed", producer=producer)

    def get_json(self, selector, event):
        replies = 0
        for reply in self.session.get(selector, timeout=10.0):
            replies += 1
            if reply.ok is not None:
                try:
                    body = json.loads(reply.ok.payload.to_bytes())
                except ValueError as e:
                    emit(event, error=f"not JSON: {e}")
                    continue
                if isinstance(body, dict):
                    # The body's own `key` (a followed stream's) wins.
                    emit(event, **{"key": str(reply.ok.key_expr), **body})
                else:
                    emit(event, key=str(reply.ok.key_expr), body=body)
                return body
            emit(event, error=reply.err.payload.to_string())
            return None
        if replies == 0:
            emit(event, error="no reply")
        return None

    def get_all(self, selector):
        """Every reply of SELECTOR (a router's admin space), then a count."""
        replies = 0
        for reply in self.session.get(selector, timeout=10.0):
            if reply.ok is None:
                emit("admin", error=reply.err.payload.to_string())
                continue
            replies += 1
            text = reply.ok.payload.to_string()
            try:
                value = json.loads(text)
            except ValueError:
                value = text
            emit("admin", key=str(reply.ok.key_expr), value=value)
        emit("admin_done", selector=selector, replies=replies)

    def close(self):
        for entry in self.producers.values():
            entry["running"] = False
        self.keep.clear()
        self.session.close()

    def follow(self, key):
        self.keep.append(self.session.declare_subscriber(key, self.on_data))
        emit("following", key=key)

    def command(self, line):
        words = line.split()
        if not words or words[0].startswith("#"):
            return True
        cmd, rest = words[0], words[1:]
        if cmd == "quit":
            return False
        if cmd in ("advertise", "caps") and rest:
            caps = {}
            for kv in rest[1:]:
                k, _, v = kv.partition("=")
                caps[k] = parse_value(v)
            if cmd == "advertise":
                self.advertise(rest[0], caps)
            else:
                self.set_caps(rest[0], caps)
        elif cmd == "state" and len(rest) == 2:
            self.set_state(rest[0], rest[1])
        elif cmd in ("silence", "resume") and len(rest) == 1:
            self.set_silent(rest[0], cmd == "silence")
        elif cmd == "put" and len(rest) >= 1:
            text = line.split(None, 2)[2] if len(rest) >= 2 else ""
            self.session.put(rest[0], text)
            emit("put", key=rest[0])
        elif cmd == "token" and len(rest) == 1:
            self.keep.append(self.session.liveliness().declare_token(rest[0]))
            emit("token", key=rest[0])
        elif cmd == "registry":
            self.get_json(f"{self.prefix}/registry", "registry")
        elif cmd in ("best", "follow-best") and len(rest) >= 1:
            topic = rest[0]
            query = " ".join(rest[1:])
            selector = f"{self.prefix}/best/{topic}"
            if query:
                selector += f"?query={query}"
            answer = self.get_json(selector, "best")
            if cmd == "follow-best":
                if answer and answer.get("data"):
                    self.follow(answer["data"])
                else:
                    emit("error", message=f"no data key to follow in {answer!r}")
        elif cmd == "declare" and rest:
            query = " ".join(rest)
            answer = self.get_json(f"{self.prefix}/follow?query={query}", "declared")
            if answer and answer.get("key"):
                self.keep.append(self.session.declare_subscriber(answer["switches"], self.on_switch))
                self.follow(answer["key"])
        elif cmd == "follow" and len(rest) == 1:
            self.follow(rest[0])
        elif cmd == "admin" and len(rest) == 1:
            self.get_all(rest[0])
        else:
            emit("error", message=f"unknown command: {line.strip()}")
        return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connect", action="append", default=[], help="zenoh endpoint to connect to, e.g. tcp/127.0.0.1:7447")
    parser.add_argument("--listen", action="append", default=[], help="zenoh endpoint to listen on (a bridge connects)")
    parser.add_argument("--prefix", default="vigil")
    parser.add_argument("--topic", default="imu")
    parser.add_argument("--type", default="vigil::demo::Sample_v1")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--key", help="sign its own adverts with this private key (vigil keygen's .key)")
    parser.add_argument("--watch", action="store_true", help="print adverts and liveliness changes")
    parser.add_argument("--do", action="append", default=[], help="a command to run at the start")
    args = parser.parse_args()
    if not args.connect and not args.listen:
        parser.error("give --connect or --listen")
    peer = Peer(args)
    for line in args.do:
        try:
            if not peer.command(line):
                peer.close()
                return
        except Exception as e:  # a bad command must not kill the peer
            emit("error", message=f"{line}: {e}")
    for line in sys.stdin:
        try:
            if not peer.command(line):
                break
        except Exception as e:
            emit("error", message=f"{line.strip()}: {e}")
    # `quit`, or stdin closed (the test harness is gone): leave cleanly.
    peer.close()


if __name__ == "__main__":
    main()
