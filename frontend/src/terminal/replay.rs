//! Exact replay: the server says at which byte of the terminal's output its frames
//! start; the client knows how many bytes it already wrote. Together they tell which
//! bytes to drop (already shown) or whether some were lost (scrollback trimmed).

/// The byte count of one terminal's output that this page has written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplayCursor {
    /// Bytes written to the screen so far (the next byte's offset).
    pub written: u64,
    /// Bytes still to drop from the frames that follow an attach.
    skip: u64,
}

/// What an attach means for the screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachGap {
    /// The frames continue exactly (or overlap, and the overlap is dropped).
    None,
    /// This many bytes were trimmed from the scrollback before we could see them.
    Lost(u64),
}

impl ReplayCursor {
    /// The server's `Attached { offset }`: frames now start at byte `offset`.
    pub fn attached(&mut self, offset: u64) -> AttachGap {
        if offset <= self.written {
            self.skip = self.written - offset;
            AttachGap::None
        } else {
            let lost = offset - self.written;
            self.written = offset;
            self.skip = 0;
            AttachGap::Lost(lost)
        }
    }

    /// Returns the part of a frame not shown yet, and counts it as written.
    pub fn accept<'a>(&mut self, frame: &'a [u8]) -> &'a [u8] {
        let drop = (self.skip.min(frame.len() as u64)) as usize;
        self.skip -= drop as u64;
        let fresh = &frame[drop..];
        self.written += fresh.len() as u64;
        fresh
    }
}
