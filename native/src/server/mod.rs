//! `anchorage serve`: the web UI, and an engine's state streamed over a
//! websocket at `/ws` in the shared protocol.
//!
//! One task owns the engine (the [`hub`]); it advances the engine on a timer,
//! applies commands from every client in arrival order, and publishes each
//! change once, already encoded, to all connected clients.

pub mod hub;
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
}

#[derive(Clone)]
pub(crate) struct AppState {
    hub: Hub,
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
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    app: Router,
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
        let hub = Hub::start(engine, options.tick);
        Ok(Server {
            listener,
            app: router(AppState { hub }),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` resolves.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        axum::serve(self.listener, self.app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ServeError::Serve)
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/ws", get(ws::upgrade))
        .route("/api/snapshot", get(snapshot))
        .route("/{file}", get(asset))
        .with_state(state)
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
async fn snapshot(State(state): State<AppState>) -> Response {
    let snapshot: Arc<str> = state.hub.snapshot_message();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        snapshot.to_string(),
    )
        .into_response()
}
