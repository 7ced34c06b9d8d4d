//! `anchorage serve`: the web UI, and an engine's state streamed over a
//! websocket at `/ws` in the shared protocol.
//!
//! One thread owns the engine (the [`hub`]); it samples the engine on a
//! timer, applies commands from every client in arrival order, and publishes
//! each change once, already encoded, to all connected clients.

pub mod hub;
pub mod metrics;
mod names;
mod upload;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use anchorage_shared::Engine;

use crate::assets;
use hub::Hub;

/// How `anchorage serve` runs.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// How often the engine is advanced and sampled.
    pub tick: Duration,
    /// What `/ws` and `/api/snapshot` require (`?token=` or
    /// `Authorization: Bearer`).
    pub token: String,
    /// The container cap and default limits.
    pub policy: hub::Policy,
    /// The real engine's data directory, where uploaded images go (`None`
    /// for the simulated kernel, which takes none).
    pub data_dir: Option<std::path::PathBuf>,
    /// The largest image upload taken, in bytes.
    pub max_upload: u64,
    /// The largest image taken, unpacked.
    pub image_limits: crate::images::Limits,
    /// The most connections one client address may hold at once.
    pub max_connections_per_client: usize,
}

impl ServeOptions {
    /// The address to open: this server, with its token.
    pub fn url(&self, addr: SocketAddr) -> String {
        format!("http://{addr}/?token={}", self.token)
    }
}

/// A token nobody can guess: 32 random bytes, in hex.
pub fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[derive(Clone)]
pub(crate) struct AppState {
    hub: Hub,
    token: Arc<str>,
    /// The names this server answers to (against DNS rebinding).
    names: Arc<names::Names>,
    uploads: Option<Arc<upload::Uploads>>,
}

impl AppState {
    /// Whether a request carries the token, in its query or a header.
    fn authorized(&self, headers: &HeaderMap, query: Option<&str>) -> bool {
        let from_query = query.and_then(|q| {
            q.split('&')
                .find_map(|pair| pair.strip_prefix("token="))
                .map(str::to_string)
        });
        let from_header = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        [from_query, from_header]
            .into_iter()
            .flatten()
            .any(|given| constant_time_eq(given.as_bytes(), self.token.as_bytes()))
    }
}

/// Compares without an early exit, so timing tells nothing of the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuses requests for another host name (DNS rebinding: a site whose
/// name was made to point at 127.0.0.1).
async fn check_host(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !state.names.host_ok(host) {
        return (
            StatusCode::FORBIDDEN,
            format!(
                "refused: this server answers to {}, not to the host name {host:?}\n",
                state.names
            ),
        )
            .into_response();
    }
    next.run(request).await
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "{0} is already in use: stop the program using it, or pass --listen with another port, such as --listen 127.0.0.1:7879"
    )]
    AddrInUse(SocketAddr),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    app: Router,
    max_per_client: usize,
}

/// How long a client may take to send a request's headers: a client that
/// holds a connection open sending nothing (slowloris) loses it.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Counts one client's open connections while it holds this.
struct ClientSlot {
    counts: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
    ip: std::net::IpAddr,
}

impl ClientSlot {
    fn take(
        counts: &Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
        ip: std::net::IpAddr,
        max: usize,
    ) -> Option<ClientSlot> {
        let mut map = counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = map.entry(ip).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            counts: counts.clone(),
            ip,
        })
    }
}

/// A connection holding its client's slot for as long as it lives: a
/// websocket, handed over by hyper after the upgrade, keeps the stream and
/// so the slot.
struct Counted {
    stream: tokio::net::TcpStream,
    _slot: ClientSlot,
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut map = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = map.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl Server {
    /// Binds the address and starts the engine's task.
    pub async fn bind(
        options: &ServeOptions,
        engine: Box<dyn Engine + Send>,
    ) -> Result<Server, ServeError> {
        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(|err| match err.kind() {
                std::io::ErrorKind::AddrInUse => ServeError::AddrInUse(options.listen),
                _ => ServeError::Bind(options.listen, err),
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| ServeError::Bind(options.listen, e))?;
        let hub = Hub::start(engine, options.tick, options.policy);
        Ok(Server {
            listener,
            app: router(AppState {
                hub,
                token: Arc::from(options.token.as_str()),
                names: Arc::new(names::Names::for_addr(addr)),
                uploads: options.data_dir.clone().map(|dir| {
                    Arc::new(upload::Uploads::new(
                        dir,
                        options.max_upload,
                        options.image_limits,
                    ))
                }),
            }),
            max_per_client: options.max_connections_per_client.max(1),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` resolves: each connection on a task of its
    /// own, with a deadline for every request's headers, and at most
    /// `max_connections_per_client` at once from one address (more are
    /// answered 429 and closed).
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let counts = Arc::default();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    // Out of descriptors, or a connection reset before it
                    // was taken: wait a moment, go on.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                },
                () = &mut shutdown => return Ok(()),
            };
            let Some(slot) = ClientSlot::take(&counts, peer.ip(), self.max_per_client) else {
                let body = format!(
                    "{} connections from this address are open, the most this server takes: close some, or restart it with a larger --max-connections-per-client\n",
                    self.max_per_client
                );
                let _ = stream.try_write(
                    format!(
                        "HTTP/1.1 429 Too Many Requests\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
                continue;
            };
            let app = self.app.clone();
            let stream = Counted {
                stream,
                _slot: slot,
            };
            tokio::spawn(async move {
                let mut http = hyper::server::conn::http1::Builder::new();
                http.timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT);
                let _ = http
                    .serve_connection(
                        hyper_util::rt::TokioIo::new(stream),
                        hyper_util::service::TowerToHyperService::new(app),
                    )
                    .with_upgrades()
                    .await;
            });
        }
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/ws", get(ws::upgrade))
        .route("/api/snapshot", get(snapshot))
        .route(
            "/api/images",
            axum::routing::post(upload::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/metrics", get(prometheus))
        .route("/{file}", get(asset))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            check_host,
        ))
        .with_state(state)
}

/// The answer to a request without the token.
pub(crate) fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        "this needs the server's token: open the address `anchorage serve` printed (it ends in ?token=...)\n",
    )
        .into_response()
}

async fn index() -> Response {
    match assets::live_index() {
        Some(page) => {
            let mut response = Html(page).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        None => (StatusCode::SERVICE_UNAVAILABLE, assets::NO_UI_MESSAGE).into_response(),
    }
}

async fn asset(Path(file): Path<String>) -> Response {
    match assets::get(&file) {
        Some(asset) => {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type()),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            (headers, asset.bytes).into_response()
        }
        None if !assets::has_ui() => {
            (StatusCode::SERVICE_UNAVAILABLE, assets::NO_UI_MESSAGE).into_response()
        }
        None => (StatusCode::NOT_FOUND, format!("no file named {file}\n")).into_response(),
    }
}

/// The current `snapshot` message as JSON, for scripts and `curl`.
/// `/metrics`: the containers' cgroups for Prometheus (needs the token,
/// as a bearer token in the scrape config, or `?token=`).
async fn prometheus(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if !state.authorized(&headers, uri.query()) {
        return unauthorized();
    }
    let snapshot = state.hub.snapshot();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        metrics::render(&snapshot),
    )
        .into_response()
}

async fn snapshot(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if !state.authorized(&headers, uri.query()) {
        return unauthorized();
    }
    let (_, snapshot) = state.hub.snapshot_message();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        snapshot.to_string(),
    )
        .into_response()
}
