//! The bridge's key-expression space, and how topic and producer names
//! become key-expression chunks and back.
//!
//! Under a prefix (`vigil` by default):
//!
//! | key | what |
//! | --- | --- |
//! | `vigil/adverts/<topic>/<producer>` | the advert, JSON |
//! | `vigil/alive/<topic>/<producer>` | a liveliness token while the producer is live |
//! | `vigil/data/<topic>/<producer>` | each sample, encapsulated CDR |
//! | `vigil/registry` | queryable: the whole registry, JSON |
//! | `vigil/best/<topic>` | queryable: the best producer for `query=<vigil query>` |
//! | `vigil/follow` | queryable: declares a followed stream for `query=<vigil query>` |
//! | `vigil/followed/<name>` | a followed stream's samples, from the best producer now |
//! | `vigil/switches/<name>` | a followed stream's switch events, JSON |
//!
//! A DDS topic may hold `/` (ROS 2 topics are `rt/imu/data`), so a topic
//! spans one or more chunks and the producer is always the last chunk.
//! Zenoh reserves some characters (`*`, `$`, `?`, `#`; `@` opens a verbatim
//! chunk that `**` does not match) and forbids empty chunks, so names are
//! escaped reversibly: each reserved character and `%` becomes `%XX`, and
//! a `/` that would open an empty chunk (leading, trailing, doubled; any
//! `/` in a producer id) becomes `%2F`. `rt/imu/data` stays
//! `rt/imu/data`; `/imu` becomes `%2Fimu`.

/// The characters escaped wherever they appear.
const RESERVED: &[char] = &['%', '*', '$', '?', '#', '@'];

/// Which part of the key space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Space {
    Adverts,
    Alive,
    Data,
}

impl Space {
    fn chunk(self) -> &'static str {
        match self {
            Space::Adverts => "adverts",
            Space::Alive => "alive",
            Space::Data => "data",
        }
    }
}

/// A key that is not in the bridge's key space.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("key `{key}`: {reason}")]
pub(crate) struct KeyError {
    /// The key as received.
    pub(crate) key: String,
    /// What is wrong with it.
    pub(crate) reason: String,
}

/// The key space under one prefix (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeySpace {
    prefix: String,
}

impl KeySpace {
    /// The space under `prefix` (checked by the config: chunks of plain
    /// characters).
    pub(crate) fn new(prefix: &str) -> KeySpace {
        KeySpace {
            prefix: prefix.to_owned(),
        }
    }

    /// The prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>/<space>/<topic>/<producer>`.
    pub(crate) fn key(&self, space: Space, topic: &str, producer: &str) -> String {
        format!(
            "{}/{}/{}/{}",
            self.prefix,
            space.chunk(),
            encode_topic(topic),
            encode_chunk(producer)
        )
    }

    /// Every key of one space: `<prefix>/<space>/**`.
    pub(crate) fn all(&self, space: Space) -> String {
        format!("{}/{}/**", self.prefix, space.chunk())
    }

    /// Every producer of one topic in one space: `<prefix>/<space>/<topic>/*`.
    pub(crate) fn topic(&self, space: Space, topic: &str) -> String {
        format!(
            "{}/{}/{}/*",
            self.prefix,
            space.chunk(),
            encode_topic(topic)
        )
    }

    /// `<prefix>/registry`.
    pub(crate) fn registry(&self) -> String {
        format!("{}/registry", self.prefix)
    }

    /// `<prefix>/best/<topic>`.
    pub(crate) fn best(&self, topic: &str) -> String {
        format!("{}/best/{}", self.prefix, encode_topic(topic))
    }

    /// `<prefix>/follow`: where Zenoh applications declare followed
    /// streams.
    pub(crate) fn follow(&self) -> String {
        format!("{}/follow", self.prefix)
    }

    /// `<prefix>/followed/<name>`: a followed stream's samples (`name` is
    /// checked plain chunks, or a name the bridge made).
    pub(crate) fn followed(&self, name: &str) -> String {
        format!("{}/followed/{name}", self.prefix)
    }

    /// `<prefix>/switches/<name>`: a followed stream's switch events.
    pub(crate) fn switches(&self, name: &str) -> String {
        format!("{}/switches/{name}", self.prefix)
    }

    /// `<prefix>/best/**`.
    pub(crate) fn all_best(&self) -> String {
        format!("{}/best/**", self.prefix)
    }

    /// The topic and producer of a key of `space`.
    pub(crate) fn parse(&self, space: Space, key: &str) -> Result<(String, String), KeyError> {
        let bad = |reason: String| KeyError {
            key: clip(key),
            reason,
        };
        let rest = self
            .strip(key, space.chunk())
            .ok_or_else(|| bad(format!("not under `{}/{}/`", self.prefix, space.chunk())))?;
        let (topic, producer) = rest
            .rsplit_once('/')
            .ok_or_else(|| bad("expected `<topic>/<producer>` after the space".to_owned()))?;
        let topic = decode_topic(topic).map_err(|e| bad(format!("topic: {e}")))?;
        let producer = decode(producer).map_err(|e| bad(format!("producer: {e}")))?;
        if topic.is_empty() || producer.is_empty() {
            return Err(bad("empty topic or producer".to_owned()));
        }
        Ok((topic, producer))
    }

    /// The topic of a `<prefix>/best/<topic>` key.
    pub(crate) fn parse_best(&self, key: &str) -> Result<String, KeyError> {
        let bad = |reason: String| KeyError {
            key: clip(key),
            reason,
        };
        let rest = self
            .strip(key, "best")
            .ok_or_else(|| bad(format!("not under `{}/best/`", self.prefix)))?;
        if rest.split('/').any(|chunk| chunk.contains('*')) {
            return Err(bad(
                "name one topic: wildcards cannot say which topic to rank".to_owned(),
            ));
        }
        let topic = decode_topic(rest).map_err(|e| bad(format!("topic: {e}")))?;
        if topic.is_empty() {
            return Err(bad("empty topic".to_owned()));
        }
        Ok(topic)
    }

    fn strip<'k>(&self, key: &'k str, space: &str) -> Option<&'k str> {
        key.strip_prefix(self.prefix.as_str())?
            .strip_prefix('/')?
            .strip_prefix(space)?
            .strip_prefix('/')
    }
}

/// Keys are outside input: messages show at most 120 characters of them.
fn clip(key: &str) -> String {
    match key.char_indices().nth(120) {
        Some((cut, _)) => format!("{}...", &key[..cut]),
        None => key.to_owned(),
    }
}

fn push_escaped(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    for byte in c.encode_utf8(&mut buf).bytes() {
        out.push_str(&format!("%{byte:02X}"));
    }
}

/// One chunk: every reserved character and every `/` escaped.
pub(crate) fn encode_chunk(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c == '/' || RESERVED.contains(&c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// A topic as chunks: a `/` separates chunks unless it would open an empty
/// one (leading, trailing or doubled), in which case it is escaped.
pub(crate) fn encode_topic(topic: &str) -> String {
    let mut out = String::with_capacity(topic.len());
    let mut chunk_empty = true;
    let mut chars = topic.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '/' {
            let next_starts_chunk = chars.peek().is_some_and(|n| *n != '/');
            if !chunk_empty && next_starts_chunk {
                out.push('/');
                chunk_empty = true;
                continue;
            }
            push_escaped(&mut out, c);
        } else if RESERVED.contains(&c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
        chunk_empty = false;
    }
    out
}

/// Undoes [`encode_topic`]: chunks decoded and joined with `/`.
fn decode_topic(chunks: &str) -> Result<String, String> {
    let decoded: Result<Vec<String>, String> = chunks.split('/').map(decode).collect();
    Ok(decoded?.join("/"))
}

/// Undoes the `%XX` escapes of one chunk. A stray `/` is not possible here
/// (the caller split on it); a malformed escape or one that does not make
/// UTF-8 is an error, not a guess.
fn decode(chunk: &str) -> Result<String, String> {
    if chunk.is_empty() {
        return Err("empty chunk".to_owned());
    }
    let bytes = chunk.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // Exactly two hex digits: `from_str_radix` alone would take a
            // sign (`%+A`), and one key would then have two spellings.
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad escape at byte {i} of `{}`", clip(chunk)))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{}` does not decode to UTF-8", clip(chunk)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_stay_readable() {
        let keys = KeySpace::new("vigil");
        assert_eq!(
            keys.key(Space::Adverts, "imu", "imu_a"),
            "vigil/adverts/imu/imu_a"
        );
        assert_eq!(
            keys.key(Space::Alive, "rt/imu/data", "imu_a"),
            "vigil/alive/rt/imu/data/imu_a"
        );
        assert_eq!(keys.best("rt/imu"), "vigil/best/rt/imu");
        assert_eq!(keys.registry(), "vigil/registry");
        assert_eq!(keys.all(Space::Data), "vigil/data/**");
        assert_eq!(keys.topic(Space::Data, "imu"), "vigil/data/imu/*");
    }

    #[test]
    fn ros_topics_span_chunks_and_the_producer_is_the_last() {
        let keys = KeySpace::new("vigil");
        assert_eq!(
            keys.parse(Space::Data, "vigil/data/rt/imu/data/imu_a"),
            Ok(("rt/imu/data".to_owned(), "imu_a".to_owned()))
        );
    }

    #[test]
    fn awkward_names_round_trip_through_valid_chunks() {
        let keys = KeySpace::new("site/vigil");
        let topics = [
            "/imu", "imu/", "a//b", "/", "x*y", "$*", "a#b?c", "50%", "@admin", "é/ü",
        ];
        let producers = ["a/b", "*", "@p", "%41", "node 1", "ü"];
        for topic in topics {
            for producer in producers {
                let key = keys.key(Space::Adverts, topic, producer);
                let chunks: Vec<&str> = key.split('/').collect();
                assert!(chunks.iter().all(|c| !c.is_empty()), "{key}");
                assert!(
                    !key.contains(['*', '$', '?', '#', '@']),
                    "{key} keeps a reserved character"
                );
                assert_eq!(
                    keys.parse(Space::Adverts, &key),
                    Ok((topic.to_owned(), producer.to_owned())),
                    "{key}"
                );
            }
            assert_eq!(keys.parse_best(&keys.best(topic)), Ok(topic.to_owned()));
        }
        assert_eq!(encode_topic("/imu"), "%2Fimu");
        assert_eq!(encode_topic("a//b"), "a%2F/b");
    }

    #[test]
    fn keys_outside_the_space_are_refused_with_the_reason() {
        let keys = KeySpace::new("vigil");
        for (key, why) in [
            ("other/adverts/imu/a", "not under `vigil/adverts/`"),
            ("vigil/alive/imu/a", "not under `vigil/adverts/`"),
            ("vigil/adverts/imu", "expected `<topic>/<producer>`"),
            ("vigil/adverts/imu/%zz", "bad escape"),
            ("vigil/adverts/imu/%+A", "bad escape"),
            ("vigil/adverts/imu/%-1", "bad escape"),
            ("vigil/adverts/imu/%4", "bad escape"),
            ("vigil/adverts/%+Aimu/a", "bad escape"),
            ("vigil/adverts/imu/%FF", "UTF-8"),
        ] {
            let error = keys.parse(Space::Adverts, key).unwrap_err();
            assert!(error.to_string().contains(why), "{key}: {error}");
            assert_eq!(error.key, key);
        }
        let error = keys.parse_best("vigil/best/*").unwrap_err();
        assert!(error.reason.contains("wildcards"), "{error}");
    }

    proptest::proptest! {
        #[test]
        fn decode_undoes_encode(name in "\\PC{1,24}", odd in "[/%*$?#@a]{1,8}") {
            for name in [name, odd] {
                proptest::prop_assert_eq!(decode(&encode_chunk(&name)), Ok(name.clone()));
                proptest::prop_assert_eq!(decode_topic(&encode_topic(&name)), Ok(name.clone()));
                let chunk = encode_chunk(&name);
                proptest::prop_assert!(!chunk.contains('/'), "{}", chunk);
            }
        }
    }
}
