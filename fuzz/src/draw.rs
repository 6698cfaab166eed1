//! Structured values drawn from fuzzer bytes: ids from a small range so
//! requests collide, sizes at the edges of the limits, strings from a
//! vocabulary of meaningful values or anything.

use arbitrary::{Result, Unstructured};
use bytes::Bytes;
use secsh::proto::{
    AuthMethod, CommandInfo, ErrorCode, Frame, Message, Secret, Stream, MAX_BODY_LEN, MAX_WINDOW,
};

/// A request id: mostly 0..8, so ids are reused and collide.
pub fn id(u: &mut Unstructured) -> Result<u64> {
    Ok(match u.int_in_range(0u8..=9)? {
        9 => u.arbitrary()?,
        n => u64::from(n),
    })
}

/// A count or size, often at an edge.
pub fn size(u: &mut Unstructured) -> Result<u64> {
    Ok(match u.int_in_range(0u8..=7)? {
        0 => 0,
        1 => 1,
        2 => MAX_WINDOW,
        3 => MAX_WINDOW + 1,
        4 => u64::MAX,
        5 => u.arbitrary()?,
        _ => u64::from(u.int_in_range(0u32..=70_000)?),
    })
}

/// A body length: small, sometimes the limit.
pub fn len(u: &mut Unstructured) -> Result<u32> {
    Ok(match u.int_in_range(0u8..=15)? {
        0 => MAX_BODY_LEN as u32,
        1 => 0,
        _ => u.int_in_range(1u32..=300)?,
    })
}

/// Some text: a meaningful value or anything.
pub fn text(u: &mut Unstructured) -> Result<String> {
    const WORDS: &[&str] = &[
        "",
        "alice",
        "/bin/true",
        "true",
        "/srv/drop/f",
        "f",
        "..",
        "../etc/passwd",
        "-",
        "--help",
        "a/b",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ];
    if u.ratio(3u8, 4)? {
        Ok(u.choose(WORDS)?.to_string())
    } else {
        let s: String = u.arbitrary()?;
        Ok(s.chars().take(40).collect())
    }
}

/// `Some(f())` or `None`.
pub fn opt<T>(
    u: &mut Unstructured,
    f: impl FnOnce(&mut Unstructured) -> Result<T>,
) -> Result<Option<T>> {
    Ok(if u.arbitrary()? { Some(f(u)?) } else { None })
}

/// A stream name.
pub fn stream(u: &mut Unstructured) -> Result<Stream> {
    Ok(*u.choose(&[Stream::Stdin, Stream::Stdout, Stream::Stderr])?)
}

fn method(u: &mut Unstructured) -> Result<AuthMethod> {
    Ok(*u.choose(&[AuthMethod::Key, AuthMethod::Password])?)
}

/// An error code.
pub fn code(u: &mut Unstructured) -> Result<ErrorCode> {
    Ok(*u.choose(&ErrorCode::ALL)?)
}

fn argv(u: &mut Unstructured) -> Result<Vec<String>> {
    let n = u.int_in_range(0u8..=4)?;
    (0..n).map(|_| text(u)).collect()
}

/// Any message, fields drawn as above.
pub fn message(u: &mut Unstructured) -> Result<Message> {
    Ok(match u.int_in_range(0u8..=29)? {
        0 => Message::Auth {
            user: text(u)?,
            method: method(u)?,
            signature: opt(u, text)?,
            password: opt(u, |u| text(u).map(Secret::new))?,
            certificate: opt(u, text)?,
        },
        1 => Message::AuthContinue {
            methods: vec![method(u)?],
            partial: u.arbitrary()?,
        },
        2 => Message::AuthOk { user: text(u)? },
        3 => Message::Exec {
            id: id(u)?,
            argv: argv(u)?,
            stdin: u.arbitrary()?,
            timeout_ms: opt(u, size)?,
            output_window: opt(u, size)?,
        },
        4 => Message::List { id: id(u)? },
        5 => Message::Commands {
            id: id(u)?,
            commands: vec![CommandInfo {
                command: text(u)?,
                template: text(u)?,
                slots: vec![text(u)?],
            }],
        },
        6 => Message::Put {
            id: id(u)?,
            path: text(u)?,
            name: opt(u, text)?,
            size: opt(u, size)?,
            mode: opt(u, |u| u.arbitrary())?,
            resume: u.arbitrary()?,
        },
        7 => Message::PutReady {
            id: id(u)?,
            window: size(u)?,
            offset: size(u)?,
            prefix_blake3: opt(u, text)?,
        },
        8 => Message::PutOk {
            id: id(u)?,
            size: size(u)?,
            blake3: text(u)?,
        },
        9 => Message::Get {
            id: id(u)?,
            path: text(u)?,
            offset: opt(u, size)?,
            prefix_blake3: opt(u, text)?,
            output_window: opt(u, size)?,
        },
        10 => Message::File {
            id: id(u)?,
            size: size(u)?,
            mode: u.arbitrary()?,
            offset: size(u)?,
        },
        11 => Message::End {
            id: id(u)?,
            size: size(u)?,
            blake3: text(u)?,
        },
        12 => Message::Started {
            id: id(u)?,
            stdin_window: size(u)?,
            stdin_offset: opt(u, size)?,
        },
        13 => Message::Window {
            id: id(u)?,
            bytes: size(u)?,
        },
        14 => Message::Denied {
            id: id(u)?,
            message: text(u)?,
        },
        15 => Message::Data {
            id: id(u)?,
            stream: stream(u)?,
            len: len(u)?,
        },
        16 => Message::Eof {
            id: id(u)?,
            stream: stream(u)?,
        },
        17 => Message::Cancel { id: id(u)? },
        18 => Message::Exit {
            id: id(u)?,
            code: opt(u, |u| u.arbitrary())?,
            signal: opt(u, |u| u.arbitrary())?,
            timed_out: u.arbitrary()?,
            duration_ms: size(u)?,
        },
        19 => Message::Ping,
        20 => Message::Pong,
        22 => Message::Job {
            id: id(u)?,
            argv: argv(u)?,
            stdin: u.arbitrary()?,
            detach: u.arbitrary()?,
            timeout_ms: opt(u, size)?,
            output_window: opt(u, size)?,
        },
        23 => Message::JobStarted {
            id: id(u)?,
            job: text(u)?,
            detached: u.arbitrary()?,
        },
        24 => Message::Attach {
            id: id(u)?,
            job: text(u)?,
            stdout_offset: size(u)?,
            stderr_offset: size(u)?,
            exact: u.arbitrary()?,
            stdin: u.arbitrary()?,
            output_window: opt(u, size)?,
        },
        25 => Message::Skipped {
            id: id(u)?,
            stream: stream(u)?,
            bytes: size(u)?,
        },
        26 => Message::Jobs { id: id(u)? },
        27 => Message::JobList {
            id: id(u)?,
            jobs: Vec::new(),
        },
        28 => Message::CancelJob {
            id: id(u)?,
            job: text(u)?,
        },
        29 => Message::JobCancelled {
            id: id(u)?,
            job: text(u)?,
            was_running: u.arbitrary()?,
        },
        _ => Message::Error {
            id: opt(u, id)?,
            code: code(u)?,
            message: text(u)?,
            retry_after_ms: opt(u, size)?,
        },
    })
}

/// A frame as the decoder would deliver it: the body has exactly the
/// announced length.
pub fn frame(u: &mut Unstructured) -> Result<Frame> {
    let message = message(u)?;
    let body = Bytes::from(vec![0x5a; message.body_len()]);
    Ok(Frame::new(message, body))
}

/// The id a message is about, when it concerns one request.
pub fn request_id(m: &Message) -> Option<u64> {
    match m {
        Message::Exec { id, .. }
        | Message::Job { id, .. }
        | Message::JobStarted { id, .. }
        | Message::Attach { id, .. }
        | Message::Skipped { id, .. }
        | Message::Put { id, .. }
        | Message::PutReady { id, .. }
        | Message::PutOk { id, .. }
        | Message::Get { id, .. }
        | Message::File { id, .. }
        | Message::End { id, .. }
        | Message::Started { id, .. }
        | Message::Window { id, .. }
        | Message::Denied { id, .. }
        | Message::Data { id, .. }
        | Message::Eof { id, .. }
        | Message::Cancel { id }
        | Message::Exit { id, .. } => Some(*id),
        Message::Error { id, .. } => *id,
        _ => None,
    }
}
