//! A hand-driven protocol client for hostile and auth tests: real TLS,
//! frames written and read one by one.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use secsh::client::{connect, ClientStream, Target};
use secsh::proto::{AuthMethod, Frame, Message};
use secsh::transport::{FrameReader, FrameWriter};
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};

pub struct Raw {
    pub reader: FrameReader<ReadHalf<ClientStream>>,
    pub writer: FrameWriter<WriteHalf<ClientStream>>,
    pub exporter: [u8; 32],
}

impl Raw {
    pub async fn connect(addr: SocketAddr, ca: &Path) -> Self {
        let target = Target::parse(&addr.to_string()).unwrap();
        let conn = connect(&target, ca, Duration::from_secs(10))
            .await
            .expect("connect");
        let exporter = conn.exporter;
        let (rd, wr) = tokio::io::split(conn.stream);
        Self {
            reader: FrameReader::new(rd),
            writer: FrameWriter::new(wr),
            exporter,
        }
    }

    pub async fn send(&mut self, m: Message) {
        self.writer.send(&m, &[]).await.unwrap();
        self.writer.flush().await.unwrap();
    }

    /// Connect and sign in as `user` with the key of `seed`; panics
    /// unless `auth_ok` comes back.
    pub async fn signed_in(addr: SocketAddr, ca: &Path, user: &str, seed: u8) -> Self {
        let mut c = Self::connect(addr, ca).await;
        let sig = sign(&crate::common::key_from_seed(seed), user, &c.exporter);
        c.auth(user, sig).await;
        match c.next().await.map(|f| f.message) {
            Some(secsh::proto::Message::AuthOk { .. }) => c,
            other => panic!("expected auth_ok, got {other:?}"),
        }
    }

    /// Write raw bytes into the TLS stream, bypassing the frame encoder.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.flush().await.unwrap();
        let inner = self.writer_inner();
        inner.write_all(bytes).await.unwrap();
        inner.flush().await.unwrap();
    }

    fn writer_inner(&mut self) -> &mut WriteHalf<ClientStream> {
        self.writer.get_mut()
    }

    pub async fn auth(&mut self, user: &str, signature: String) {
        self.send(Message::Auth {
            user: user.into(),
            method: AuthMethod::Key,
            signature: Some(signature),
            password: None,
            certificate: None,
        })
        .await;
    }

    /// The next frame, or None at EOF or error, within 10 s.
    pub async fn next(&mut self) -> Option<Frame> {
        match tokio::time::timeout(Duration::from_secs(10), self.reader.read_frame()).await {
            Ok(Ok(f)) => f,
            Ok(Err(_)) => None,
            Err(_) => panic!("no frame within 10 s"),
        }
    }
}

/// An armored SSHSIG over `user`'s auth message for `exporter`.
pub fn sign(key: &ssh_key::PrivateKey, user: &str, exporter: &[u8; 32]) -> String {
    let msg = secsh::auth::signing_message(user, exporter);
    key.sign(secsh::auth::NAMESPACE, ssh_key::HashAlg::Sha512, &msg)
        .unwrap()
        .to_pem(ssh_key::LineEnding::LF)
        .unwrap()
}
