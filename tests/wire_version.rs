//! The CLI side of the version check: a holder of another protocol version is refused
//! with a message naming both versions, whichever side notices first.

use gridctl::client::{ClientError, HolderClient};
use gridctl::protocol::{
    read_frame, write_control, ClientMessage, HolderMessage, PROTOCOL_VERSION,
};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::Duration;

/// A one-connection stand-in holder that reads the `Hello` and answers `reply`.
fn fake_holder(socket: &Path, reply: HolderMessage) -> std::thread::JoinHandle<()> {
    let listener = UnixListener::bind(socket).unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let hello = read_frame(&mut s).unwrap().expect("hello");
        let hello: ClientMessage = gridctl::protocol::decode_control(&hello.1).unwrap();
        assert_eq!(
            hello,
            ClientMessage::Hello {
                version: PROTOCOL_VERSION
            }
        );
        write_control(&mut s, &reply).unwrap();
    })
}

fn refusal(reply: HolderMessage) -> ClientError {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("holder.sock");
    let server = fake_holder(&socket, reply);
    let err = match HolderClient::connect(&socket, Duration::from_secs(5)) {
        Ok(_) => panic!("a holder of another version was accepted"),
        Err(e) => e,
    };
    server.join().unwrap();
    err
}

#[test]
fn a_newer_holder_welcome_is_refused_naming_both_versions() {
    let newer = PROTOCOL_VERSION + 1;
    let err = refusal(HolderMessage::Welcome {
        version: newer,
        holder_pid: 42,
    });
    assert!(matches!(err, ClientError::Refused { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.starts_with("talk to the holder at "), "{msg}");
    assert!(
        msg.contains(&format!(
            "this gridctl speaks version {PROTOCOL_VERSION}, the holder speaks version {newer}"
        )),
        "{msg}"
    );
}

#[test]
fn a_holder_that_refuses_the_hello_is_reported_in_its_own_words() {
    let words =
        "protocol version mismatch: the client speaks version 1, this holder speaks version 2";
    let err = refusal(HolderMessage::Error {
        message: words.into(),
    });
    assert!(matches!(err, ClientError::Holder { .. }), "{err:?}");
    assert_eq!(err.to_string(), words);
}
