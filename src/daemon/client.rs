//! A small HTTP/1.1 client over the daemon's Unix socket (hyper), for the
//! CLI verbs (`gdr status`, `gdr jobs`, `gdr submit`) and the benchmark.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connecting to {path}: {source} (is `gdr serve` running?)")]
    Connect {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("request: {0}")]
    Request(#[from] hyper::http::Error),
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
}

/// A response: status, headers we care about, body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// One request on a fresh connection.
pub async fn request_async(
    sock: &Path,
    method: &str,
    uri: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<Reply, ClientError> {
    let stream = tokio::net::UnixStream::connect(sock)
        .await
        .map_err(|e| ClientError::Connect {
            path: sock.display().to_string(),
            source: e,
        })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let conn = tokio::spawn(conn);
    let mut b = hyper::Request::builder()
        .method(method)
        .uri(uri)
        .header(hyper::header::HOST, "gdr");
    if let Some(ct) = content_type {
        b = b.header(hyper::header::CONTENT_TYPE, ct);
    }
    let req = b.body(Full::new(Bytes::from(body)))?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let h = |name: hyper::header::HeaderName| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let retry_after = h(hyper::header::RETRY_AFTER);
    let content_type = h(hyper::header::CONTENT_TYPE);
    let body = resp.into_body().collect().await?.to_bytes().to_vec();
    drop(sender);
    let _ = conn.await;
    Ok(Reply {
        status,
        retry_after,
        content_type,
        body,
    })
}

/// Blocking wrapper (a current-thread runtime per call).
pub fn request(
    sock: &Path,
    method: &str,
    uri: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<Reply, ClientError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ClientError::Runtime)?;
    rt.block_on(request_async(sock, method, uri, content_type, body))
}
