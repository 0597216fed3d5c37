//! A WebSocket client written against the wire, for checking what the server really
//! sends: whether a client's permessage-deflate offer was taken, whether each message
//! came compressed (RSV1), and how many bytes crossed the socket. Compressed messages
//! are inflated with flate2 (raw deflate, context kept between messages, as RFC 7692
//! has it when no `no_context_takeover` is negotiated), independently of the server's
//! WebSocket library. Used by the server tests and by `./x bench scale`.

#![allow(dead_code)]

use std::io;

use flate2::{Decompress, FlushDecompress};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the client offers in `Sec-WebSocket-Extensions` (what Chromium sends).
pub const DEFLATE_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// One received message.
#[derive(Debug)]
pub struct RawMessage {
    /// 1 text, 2 binary, 8 close, 9 ping, 10 pong.
    pub opcode: u8,
    /// The payload as the application sees it (inflated when it was compressed).
    pub payload: Vec<u8>,
    /// Whether its first frame had RSV1 set (permessage-deflate).
    pub compressed: bool,
    /// Bytes on the wire for it, frame headers included.
    pub wire_bytes: usize,
}

impl RawMessage {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.payload).unwrap_or("")
    }
}

pub struct RawSocket {
    stream: TcpStream,
    buffer: Vec<u8>,
    /// `Some` when the server agreed to permessage-deflate.
    inflate: Option<Decompress>,
    /// The server's `Sec-WebSocket-Extensions`, if it sent one.
    pub extensions: Option<String>,
    /// Bytes read from the socket since the handshake's response.
    pub wire_bytes: u64,
}

fn protocol_error(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

impl RawSocket {
    /// Opens `path` (with its query) on `addr` (`host:port`), offering permessage-deflate
    /// when `offer_deflate`. Fails unless the server answers `101`.
    pub async fn connect(addr: &str, path: &str, offer_deflate: bool) -> io::Result<RawSocket> {
        let mut stream = TcpStream::connect(addr).await?;
        let offer = if offer_deflate {
            format!("Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n")
        } else {
            String::new()
        };
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut buffer = Vec::new();
        let head_end = loop {
            if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(protocol_error("the server closed during the handshake"));
            }
            buffer.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
        buffer.drain(..head_end);
        let status = head.lines().next().unwrap_or("");
        if !status.contains(" 101 ") {
            return Err(protocol_error(format!("no upgrade: {status}")));
        }
        let extensions = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("sec-websocket-extensions")
                .then(|| value.trim().to_string())
        });
        let deflate = extensions
            .as_deref()
            .is_some_and(|e| e.starts_with("permessage-deflate"));
        if deflate && !offer_deflate {
            return Err(protocol_error(
                "the server answered an extension not offered",
            ));
        }
        Ok(RawSocket {
            stream,
            wire_bytes: buffer.len() as u64,
            buffer,
            inflate: deflate.then(|| Decompress::new(false)),
            extensions,
        })
    }

    /// Whether the server agreed to permessage-deflate.
    pub fn deflate(&self) -> bool {
        self.inflate.is_some()
    }

    async fn fill(&mut self, want: usize) -> io::Result<()> {
        while self.buffer.len() < want {
            let mut chunk = [0u8; 16384];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.wire_bytes += n as u64;
            self.buffer.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    }

    /// One frame: (fin, rsv1, opcode, payload, bytes on the wire).
    async fn frame(&mut self) -> io::Result<(bool, bool, u8, Vec<u8>, usize)> {
        self.fill(2).await?;
        let (b0, b1) = (self.buffer[0], self.buffer[1]);
        if b1 & 0x80 != 0 {
            return Err(protocol_error("a server frame is masked"));
        }
        let (len, header) = match b1 & 0x7f {
            126 => {
                self.fill(4).await?;
                (
                    u16::from_be_bytes([self.buffer[2], self.buffer[3]]) as usize,
                    4,
                )
            }
            127 => {
                self.fill(10).await?;
                let mut n = [0u8; 8];
                n.copy_from_slice(&self.buffer[2..10]);
                (u64::from_be_bytes(n) as usize, 10)
            }
            n => (n as usize, 2),
        };
        self.fill(header + len).await?;
        let payload = self.buffer[header..header + len].to_vec();
        self.buffer.drain(..header + len);
        Ok((
            b0 & 0x80 != 0,
            b0 & 0x40 != 0,
            b0 & 0x0f,
            payload,
            header + len,
        ))
    }

    /// The next message, fragments joined and inflated.
    pub async fn next(&mut self) -> io::Result<RawMessage> {
        let (mut fin, compressed, opcode, mut payload, mut wire_bytes) = self.frame().await?;
        while !fin {
            let (more_fin, _, continuation, more, more_wire) = self.frame().await?;
            if continuation != 0 {
                return Err(protocol_error("a new message inside a fragmented one"));
            }
            payload.extend_from_slice(&more);
            wire_bytes += more_wire;
            fin = more_fin;
        }
        if compressed {
            let inflate = self
                .inflate
                .as_mut()
                .ok_or_else(|| protocol_error("RSV1 set without permessage-deflate"))?;
            payload = inflate_message(inflate, &payload)?;
        }
        Ok(RawMessage {
            opcode,
            payload,
            compressed,
            wire_bytes,
        })
    }

    /// Sends a text message (masked, as a client must; never compressed).
    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        let mask = [0x37u8, 0xfa, 0x21, 0x3d];
        let mut frame = vec![0x81u8];
        match text.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).await
    }
}

/// Inflates one permessage-deflate message: the sender removed the trailing
/// `00 00 ff ff` of its sync flush, so it is put back before inflating.
fn inflate_message(inflate: &mut Decompress, payload: &[u8]) -> io::Result<Vec<u8>> {
    let mut input = payload.to_vec();
    input.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
    let mut out = Vec::with_capacity(input.len() * 4 + 64);
    let mut consumed = 0usize;
    loop {
        let (before, out_before) = (inflate.total_in(), out.len());
        inflate
            .decompress_vec(&input[consumed..], &mut out, FlushDecompress::Sync)
            .map_err(|e| protocol_error(format!("bad deflate data: {e}")))?;
        consumed += (inflate.total_in() - before) as usize;
        if consumed >= input.len() && out.len() < out.capacity() {
            return Ok(out);
        }
        if out.len() < out.capacity() && inflate.total_in() == before && out.len() == out_before {
            return Err(protocol_error("deflate data ends inside a block"));
        }
        out.reserve(out.capacity().max(4096));
    }
}
