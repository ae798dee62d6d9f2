//! `readerlab proxy` as a user starts it: a real process that prints where
//! its API listens and answers Toxiproxy's `GET /version` there.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// Kills the server however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn proxy_prints_its_address_and_serves_the_api_there() {
    let child = Command::new(env!("CARGO_BIN_EXE_readerlab"))
        .args(["proxy", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("readerlab runs");
    let mut server = Server(child);
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let address = line
        .trim()
        .strip_prefix("toxiproxy-compatible API listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
    assert!(!address.ends_with(":0"), "{address}");

    let mut api = TcpStream::connect(address).unwrap();
    api.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    write!(api, "GET /version HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    api.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("toxiproxy"), "{response}");
}

#[test]
fn proxy_refuses_an_address_it_cannot_parse() {
    let out = Command::new(env!("CARGO_BIN_EXE_readerlab"))
        .args(["proxy", "--listen", "nowhere"])
        .output()
        .expect("readerlab runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere"));
}
