//! The driver process: one request line out, one reply line back, each wait bounded.
//!
//! A driver that dies, stops answering or answers out of protocol is broken for good: it is
//! killed, and every later call fails at once with the first reason, so a broken driver costs
//! at most one timeout and never hangs the suite.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{DriverError, Request};

/// How much of the driver's standard error a failure message quotes: its end.
const STDERR_TAIL: usize = 2000;

/// How long a driver whose input was closed may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// A reply of the driver, as the protocol has it: `{"ok": value}` or `{"error": payload}`. A
/// `{"failure": message}` is a [`DriverError`] instead.
pub type Answer = Result<Value, Value>;

/// A running driver.
pub struct Connection {
    state: RefCell<State>,
    command: String,
    timeout: Duration,
}

enum State {
    Running(Process),
    /// Why the driver was given up on; every later call fails with it.
    Broken(String),
}

struct Process {
    child: Child,
    /// `None` once closed, to let the driver end.
    stdin: Option<ChildStdin>,
    /// Lines of the driver's standard output, read by a thread so a wait can be bounded.
    replies: Receiver<std::io::Result<String>>,
    /// The end of the driver's standard error, for failure messages.
    stderr: Arc<Mutex<String>>,
    /// Gets a message when the thread reading standard error has read it all.
    stderr_done: Receiver<()>,
}

impl Connection {
    /// Starts `command_line`, split at whitespace (no quoting), with its standard streams piped.
    pub fn spawn(command_line: &str, timeout: Duration) -> Result<Self, DriverError> {
        let mut words = command_line.split_whitespace();
        let program = words
            .next()
            .ok_or_else(|| DriverError("the host command is empty".to_owned()))?;
        let mut child = Command::new(program)
            .args(words)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| DriverError(format!("starting `{command_line}`: {error}")))?;
        let (Some(stdin), Some(stdout), Some(stderr_pipe)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(DriverError(format!(
                "`{command_line}` has no piped streams"
            )));
        };
        let (send_reply, replies) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if send_reply.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let (send_done, stderr_done) = channel();
        let tail = Arc::clone(&stderr);
        thread::spawn(move || {
            keep_tail(stderr_pipe, &tail);
            let _ = send_done.send(());
        });
        Ok(Self {
            state: RefCell::new(State::Running(Process {
                child,
                stdin: Some(stdin),
                replies,
                stderr,
                stderr_done,
            })),
            command: command_line.to_owned(),
            timeout,
        })
    }

    /// Sends `request` and waits for the reply.
    ///
    /// `Err` if the driver failed the call (`{"failure": ...}`), or is broken: it died, took
    /// longer than the timeout, or answered with something that is not a reply.
    pub fn call(&self, request: &Request<'_>) -> Result<Answer, DriverError> {
        let op = request.op();
        let Ok(mut state) = self.state.try_borrow_mut() else {
            return Err(DriverError(format!(
                "`{op}` was called during another call"
            )));
        };
        let process = match &mut *state {
            State::Running(process) => process,
            State::Broken(why) => return Err(DriverError(format!("the driver is broken: {why}"))),
        };
        let outcome = process.exchange(&request.to_json(), self.timeout);
        let reply = match outcome {
            Ok(reply) => reply,
            Err(why) => {
                let why = format!("`{}` {why}", self.command);
                let why = process.give_up(why);
                *state = State::Broken(why.clone());
                return Err(DriverError(why));
            }
        };
        match parse_reply(&reply) {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(failure)) => Err(DriverError(format!("the driver failed `{op}`: {failure}"))),
            Err(why) => {
                let why = format!("`{}` answered `{op}` out of protocol: {why}", self.command);
                let why = process.give_up(why);
                *state = State::Broken(why.clone());
                Err(DriverError(why))
            }
        }
    }

    /// Whether the driver is still running and in step.
    pub fn is_running(&self) -> bool {
        self.state
            .try_borrow()
            .is_ok_and(|state| matches!(*state, State::Running(_)))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let State::Running(process) = self.state.get_mut() {
            process.stop();
        }
    }
}

impl Process {
    /// Writes `request` as a line and reads the reply line, waiting at most `timeout`.
    fn exchange(&mut self, request: &Value, timeout: Duration) -> Result<String, String> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| "has its input closed".to_owned())?;
        let mut line = request.to_string();
        line.push('\n');
        if let Err(error) = stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
        {
            return Err(format!("took no request ({error})"));
        }
        match self.replies.recv_timeout(timeout) {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(error)) => Err(format!("could not be read: {error}")),
            Err(RecvTimeoutError::Timeout) => {
                Err(format!("did not answer within {} s", timeout.as_secs_f64()))
            }
            Err(RecvTimeoutError::Disconnected) => Err("closed its output".to_owned()),
        }
    }

    /// Kills the driver and returns `why` with how it ended and the end of its standard error.
    fn give_up(&mut self, why: String) -> String {
        self.stdin = None;
        let _ = self.child.kill();
        let status = self
            .child
            .wait()
            .map_or_else(|error| error.to_string(), |status| status.to_string());
        // Killed, it closes its standard error; a child of its own could hold it open longer.
        let _ = self.stderr_done.recv_timeout(Duration::from_secs(1));
        let stderr = self
            .stderr
            .lock()
            .map(|tail| tail.trim().to_owned())
            .unwrap_or_default();
        if stderr.is_empty() {
            format!("{why} ({status}, nothing on stderr)")
        } else {
            format!("{why} ({status}); its stderr ends:\n{stderr}")
        }
    }

    /// Closes the driver's input, lets it exit, and kills it if it does not.
    fn stop(&mut self) {
        self.stdin = None;
        let deadline = Instant::now().checked_add(EXIT_GRACE);
        while let Ok(None) = self.child.try_wait() {
            if deadline.is_none_or(|deadline| Instant::now() >= deadline) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A reply line: `Ok(Ok(value))`, `Ok(Err(payload))` for an error reply, `Err(message)` inside
/// for a failure reply; the outer `Err` says why the line is no reply at all.
fn parse_reply(line: &str) -> Result<Result<Answer, String>, String> {
    let value: Value = serde_json::from_str(line)
        .map_err(|error| format!("{error} in {}", super::wire::excerpt(line)))?;
    let Value::Object(mut fields) = value else {
        return Err(format!("not an object: {}", super::wire::excerpt(line)));
    };
    if fields.len() != 1 {
        return Err(format!(
            "a reply has one field, ok, error or failure: {}",
            super::wire::excerpt(line)
        ));
    }
    if let Some(value) = fields.remove("ok") {
        return Ok(Ok(Ok(value)));
    }
    if let Some(payload) = fields.remove("error") {
        return Ok(Ok(Err(payload)));
    }
    match fields.remove("failure") {
        Some(Value::String(message)) => Ok(Err(message)),
        _ => Err(format!(
            "a reply has one field, ok, error or failure: {}",
            super::wire::excerpt(line)
        )),
    }
}

/// Reads `pipe` to its end, keeping the last [`STDERR_TAIL`] bytes or so in `tail`.
fn keep_tail(mut pipe: impl Read, tail: &Mutex<String>) {
    let mut buffer = [0u8; 4096];
    while let Ok(read) = pipe.read(&mut buffer) {
        let Some(chunk) = buffer.get(..read).filter(|chunk| !chunk.is_empty()) else {
            break;
        };
        let Ok(mut tail) = tail.lock() else {
            break;
        };
        tail.push_str(&String::from_utf8_lossy(chunk));
        if tail.len() > 2 * STDERR_TAIL {
            let cut = tail.len().saturating_sub(STDERR_TAIL);
            let cut = (cut..tail.len())
                .find(|&at| tail.is_char_boundary(at))
                .unwrap_or(0);
            tail.replace_range(..cut, "");
        }
    }
}
