//! [`AnswerBytes`]: finds, in what the server writes on a connection, the bytes of answers.
//!
//! Over HTTP/1 every byte written is an answer's. Over HTTP/2 the server also writes frames the peer asks for: a `PING` is answered, a
//! `SETTINGS` acknowledged. Counted as progress, they would let a peer keep a connection
//! that never sends a request, or whose answers it grants no flow-control window, by
//! pinging it. Only the payload of `DATA` frames, the answers' bodies, counts; headers are
//! not flow-controlled and go out whatever the peer does, so they do not count either.
//!
//! The frames are read from the bytes as they are written, nine-byte header by header
//! (RFC 9113 section 4.1): the payloads are skipped, never copied. The connection is known
//! to speak HTTP/2 from its first write, the server's `SETTINGS` frame, whose length's high
//! byte is zero; an HTTP/1 answer begins with `HTTP/`.

/// The length of a frame header.
const HEADER: usize = 9;
/// The type of a `DATA` frame.
const DATA: u8 = 0;

/// What a connection speaks, as its first write tells, and so which of its bytes are
/// answers'.
#[derive(Debug, Default)]
pub(super) enum AnswerBytes {
    /// Nothing written yet.
    #[default]
    Unknown,
    /// HTTP/1: every byte.
    Http1,
    /// HTTP/2: the payloads of `DATA` frames.
    Http2(Frames),
}

impl AnswerBytes {
    /// Follows the first `written` bytes of `bufs`, written after all those followed
    /// before; the bytes of answers among them.
    pub(super) fn among<'a>(
        &mut self,
        bufs: impl Iterator<Item = &'a [u8]> + Clone,
        written: usize,
    ) -> usize {
        if let Self::Unknown = self {
            match bufs.clone().find_map(<[u8]>::first) {
                _ if written == 0 => return 0,
                Some(0) => *self = Self::Http2(Frames::default()),
                _ => *self = Self::Http1,
            }
        }
        let Self::Http2(frames) = self else {
            return written;
        };
        let mut left = written;
        let mut data = 0;
        for buf in bufs {
            let part = &buf[..left.min(buf.len())];
            data += frames.data_in(part);
            left -= part.len();
            if left == 0 {
                break;
            }
        }
        data
    }
}

/// Where the writes of an HTTP/2 connection stand in its stream of frames.
#[derive(Debug, Default)]
pub(super) struct Frames {
    /// The bytes of the current frame's header written so far (all nine once it is whole).
    header: [u8; HEADER],
    /// How many of `header` are written; `HEADER` while the payload is being written.
    header_len: usize,
    /// The current frame's payload bytes still to be written.
    payload_left: usize,
}

impl Frames {
    /// Follows `bytes`, written after all the bytes followed before; the `DATA` payload
    /// bytes among them.
    pub(super) fn data_in(&mut self, mut bytes: &[u8]) -> usize {
        let mut data = 0;
        while !bytes.is_empty() {
            if self.header_len < HEADER {
                let taken = (HEADER - self.header_len).min(bytes.len());
                self.header[self.header_len..self.header_len + taken]
                    .copy_from_slice(&bytes[..taken]);
                self.header_len += taken;
                bytes = &bytes[taken..];
                if self.header_len == HEADER {
                    let [a, b, c, ..] = self.header;
                    self.payload_left = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
                }
            }
            if self.header_len == HEADER {
                let taken = self.payload_left.min(bytes.len());
                if self.header[3] == DATA {
                    data += taken;
                }
                self.payload_left -= taken;
                bytes = &bytes[taken..];
                if self.payload_left == 0 {
                    self.header_len = 0;
                }
            }
        }
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame of `kind` with `payload_len` bytes of payload on stream 1.
    fn frame(kind: u8, payload_len: usize) -> Vec<u8> {
        let len = u32::try_from(payload_len).unwrap().to_be_bytes();
        let mut frame = vec![len[1], len[2], len[3], kind, 0, 0, 0, 0, 1];
        frame.resize(HEADER + payload_len, 0xAB);
        frame
    }

    const PING: u8 = 6;
    const HEADERS: u8 = 1;
    const SETTINGS: u8 = 4;

    #[test]
    fn only_data_payloads_count() {
        let mut written = frame(SETTINGS, 0);
        written.extend(frame(PING, 8));
        written.extend(frame(HEADERS, 40));
        written.extend(frame(DATA, 1_000));
        written.extend(frame(DATA, 0));
        written.extend(frame(PING, 8));
        assert_eq!(Frames::default().data_in(&written), 1_000);
    }

    #[test]
    fn frames_split_anywhere_across_writes_count_the_same() {
        let mut written = frame(PING, 8);
        written.extend(frame(DATA, 70_000));
        written.extend(frame(HEADERS, 13));
        written.extend(frame(DATA, 5));
        for piece in [1, 2, 7, 9, 10, 4_096] {
            let mut frames = Frames::default();
            let data: usize = written.chunks(piece).map(|w| frames.data_in(w)).sum();
            assert_eq!(data, 70_005, "written {piece} bytes at a time");
        }
    }

    /// The answer bytes `AnswerBytes` finds in `writes`, each written in full.
    fn answer_bytes(writes: &[Vec<u8>]) -> usize {
        let mut answers = AnswerBytes::default();
        writes
            .iter()
            .map(|w| answers.among(std::iter::once(&w[..]), w.len()))
            .sum()
    }

    #[test]
    fn every_byte_of_an_http1_connection_counts() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n".to_vec();
        let writes = [head.clone(), b"hello".to_vec(), vec![0; 20]];
        assert_eq!(answer_bytes(&writes), head.len() + 25);
    }

    #[test]
    fn an_http2_connection_that_answers_pings_writes_no_answer() {
        let writes = [frame(SETTINGS, 12), frame(SETTINGS, 0), frame(PING, 8)];
        assert_eq!(answer_bytes(&writes), 0);
        let answer = [frame(SETTINGS, 0), frame(HEADERS, 30), frame(DATA, 5)];
        assert_eq!(answer_bytes(&answer), 5);
    }

    #[test]
    fn only_the_bytes_written_of_a_vectored_write_count() {
        let mut answers = AnswerBytes::default();
        assert_eq!(
            answers.among(std::iter::once(&frame(SETTINGS, 0)[..]), 9),
            0
        );
        let data = frame(DATA, 100);
        let (head, payload) = data.split_at(HEADER);
        let bufs = [head, payload];
        // The head and 40 bytes of the payload went out; the rest is written again later.
        assert_eq!(answers.among(bufs.iter().copied(), HEADER + 40), 40);
        assert_eq!(answers.among(std::iter::once(&payload[40..]), 60), 60);
        assert_eq!(answers.among(std::iter::once(&frame(DATA, 1)[..]), 10), 1);
    }

    #[test]
    fn a_large_frame_length_is_read_whole() {
        let mut frames = Frames::default();
        // 0x01_00_01 bytes of payload, the largest lengths use the first byte.
        let header = [1, 0, 1, DATA, 0, 0, 0, 0, 1];
        assert_eq!(frames.data_in(&header), 0);
        assert_eq!(frames.data_in(&vec![0; 65_537]), 65_537);
        // The next frame's header follows.
        assert_eq!(frames.data_in(&frame(PING, 8)), 0);
        assert_eq!(frames.data_in(&frame(DATA, 3)), 3);
    }
}
