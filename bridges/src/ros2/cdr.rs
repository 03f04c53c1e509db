//! A bounds-checked reader of plain CDR (XCDR1, either endianness) for the
//! ROS 2 messages vigil decodes by hand (`diagnostic_msgs`,
//! `ros_discovery_info`): they come from any peer on the domain, and cdr
//! 0.2 allocates an untrusted length before it reads. Every length is
//! checked against the input before anything is taken or allocated.

use super::msgs::WireError;

/// Where the encapsulation header ends and alignment counts from.
const ENCAPSULATION: usize = 4;

/// A cursor over one sample, its encapsulation header included.
pub(crate) struct CdrReader<'b> {
    bytes: &'b [u8],
    pos: usize,
    little: bool,
}

impl<'b> CdrReader<'b> {
    /// A reader after the encapsulation header, which must be plain CDR
    /// (`00 00` or `00 01`).
    pub(crate) fn new(bytes: &'b [u8]) -> Result<Self, WireError> {
        let little = match bytes.get(..2) {
            Some([0, 1]) => true,
            Some([0, 0]) => false,
            Some(_) => return Err(fail(0, "encapsulation is not plain CDR (00 00 or 00 01)")),
            None => return Err(fail(0, "shorter than the encapsulation header")),
        };
        if bytes.len() < ENCAPSULATION {
            return Err(fail(0, "shorter than the encapsulation header"));
        }
        Ok(CdrReader {
            bytes,
            pos: ENCAPSULATION,
            little,
        })
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The next `n` bytes; `what` names them if there are not that many.
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'b [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(fail(self.pos, what))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1, "truncated byte")?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, WireError> {
        let misalign = (self.pos - ENCAPSULATION) % 4;
        if misalign != 0 {
            self.take(4 - misalign, "truncated padding")?;
        }
        let b = self.take(4, "truncated 32-bit integer")?;
        let b = [b[0], b[1], b[2], b[3]];
        Ok(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    /// A sequence length, refused when even the smallest elements
    /// (`min_size` bytes each) could not fit in what is left.
    pub(crate) fn count(&mut self, min_size: usize) -> Result<usize, WireError> {
        let at = self.pos;
        let n = self.u32()? as usize;
        let left = self.remaining();
        if n.saturating_mul(min_size) > left.saturating_add(3) {
            return Err(fail(at, "sequence length larger than the message"));
        }
        Ok(n)
    }

    /// A CDR string: its length (the NUL included), its bytes, a NUL.
    pub(crate) fn string(&mut self) -> Result<String, WireError> {
        let at = self.pos;
        let len = self.u32()? as usize;
        let bytes = self.take(len, "string length larger than the message")?;
        let (nul, text) = bytes.split_last().ok_or(fail(at, "empty string body"))?;
        if *nul != 0 {
            return Err(fail(at, "string not terminated by NUL"));
        }
        String::from_utf8(text.to_vec()).map_err(|_| fail(at, "string is not UTF-8"))
    }

    /// Like [`CdrReader::string`], but a length of 0 reads as `""`: not
    /// what CDR writers send (an empty string is length 1, a NUL), but
    /// unambiguous.
    pub(crate) fn string_or_empty(&mut self) -> Result<String, WireError> {
        let at = self.pos;
        if self.u32()? == 0 {
            return Ok(String::new());
        }
        self.pos = at;
        self.string()
    }
}

fn fail(offset: usize, why: &'static str) -> WireError {
    WireError { offset, why }
}
