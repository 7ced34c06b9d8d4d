//! `POST /api/images?file=NAME.tar[&name=IMAGE[:TAG]]`: an image archive
//! uploaded to the server (a root file system tarball, a `docker save`
//! archive or an OCI layout in a tar; plain, gzip or zstd), imported into
//! the real engine's store as `anchorage image import` would, with its
//! progress announced on every connection's socket.
//!
//! The body goes to a file of its own under `DATA/uploads/`, removed once
//! imported or refused: a refused or interrupted upload leaves nothing
//! behind (the store's own import is atomic).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use indicatif::ProgressBar;
use tokio::io::AsyncWriteExt;

use anchorage_shared::Event;

use super::AppState;

/// Where uploads go, how large one may be, and how large the image in it.
pub struct Uploads {
    pub data_dir: PathBuf,
    pub max_bytes: u64,
    pub limits: crate::images::Limits,
    /// One import at a time (the store imports one at a time anyway).
    busy: tokio::sync::Mutex<u64>,
}

impl Uploads {
    /// Uploads into the store of `data_dir` (what a killed server left
    /// there is removed by `ImageStore::tidy` as any command opens it).
    pub fn new(data_dir: PathBuf, max_bytes: u64, limits: crate::images::Limits) -> Uploads {
        Uploads {
            data_dir,
            max_bytes,
            limits,
            busy: tokio::sync::Mutex::new(0),
        }
    }
}

/// How often progress is announced.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// A file name safe to keep: letters, digits, `.`, `-` and `_`, not
/// starting with a dot; the store names an image without a name after it.
fn safe_file_name(given: &str) -> Option<String> {
    let name: String = given
        .rsplit('/')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
        .take(100)
        .collect();
    (!name.is_empty() && !name.starts_with('.')).then_some(name)
}

fn query_value(uri: &Uri, key: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| percent_decode(v))
    })
}

/// Decodes `%XX` escapes and `+` (as browsers encode query values).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    let mut message = message.into();
    if !message.ends_with('\n') {
        message.push('\n');
    }
    (status, message).into_response()
}

pub(super) async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    if !state.authorized(&headers, uri.query()) {
        return super::unauthorized();
    }
    let Some(uploads) = state.uploads.clone() else {
        return refuse(
            StatusCode::NOT_IMPLEMENTED,
            "this server runs the simulated kernel, which has only its built-in `workshop` image: serve real containers (anchorage serve --engine real) to import images",
        );
    };
    let Some(file) = query_value(&uri, "file")
        .as_deref()
        .and_then(safe_file_name)
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "say what the upload is called: POST /api/images?file=NAME.tar (letters, digits, `.`, `-` and `_`), and optionally &name=IMAGE:TAG",
        );
    };
    let name = query_value(&uri, "name");
    let total = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(total) = total
        && total > uploads.max_bytes
    {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{file} is {total} bytes, more than this server takes ({} bytes): import it on the host with `anchorage image import`, or restart the server with a larger --max-upload",
                uploads.max_bytes
            ),
        );
    }
    let hub = state.hub.clone();
    let mut turn = uploads.busy.lock().await;
    *turn += 1;
    let dir = uploads
        .data_dir
        .join("uploads")
        .join(format!("{}-{}", std::process::id(), *turn));
    let result =
        receive_and_import(&uploads, &hub, &dir, &file, name.as_deref(), total, body).await;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    drop(turn);
    match result {
        Ok(json) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response(),
        Err((status, reason)) => {
            hub.announce(vec![Event::ImageImportFailed {
                file: file.clone(),
                reason: reason.clone(),
            }]);
            refuse(status, reason)
        }
    }
}

async fn receive_and_import(
    uploads: &Uploads,
    hub: &super::hub::Hub,
    dir: &Path,
    file: &str,
    name: Option<&str>,
    total: Option<u64>,
    body: Body,
) -> Result<String, (StatusCode, String)> {
    let internal = |what: &str, err: std::io::Error| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the server cannot {what}: {err}"),
        )
    };
    tokio::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .await
        .map_err(|e| internal("make a folder for the upload", e))?;
    let path = dir.join(file);
    let mut out = tokio::fs::File::create(&path)
        .await
        .map_err(|e| internal("store the upload", e))?;
    let mut stream = body.into_data_stream();
    let mut received: u64 = 0;
    let mut announced = Instant::now();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| {
            (
                StatusCode::BAD_REQUEST,
                format!("the upload of {file} broke off after {received} bytes: {err}"),
            )
        })?;
        received += chunk.len() as u64;
        if received > uploads.max_bytes {
            return Err((
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "{file} is more than this server takes ({} bytes): import it on the host with `anchorage image import`, or restart the server with a larger --max-upload",
                    uploads.max_bytes
                ),
            ));
        }
        out.write_all(&chunk)
            .await
            .map_err(|e| internal("store the upload", e))?;
        if announced.elapsed() >= PROGRESS_EVERY {
            announced = Instant::now();
            hub.announce(vec![Event::ImageImport {
                file: file.to_string(),
                unpacking: false,
                done: received,
                total,
            }]);
        }
    }
    out.flush()
        .await
        .map_err(|e| internal("store the upload", e))?;
    drop(out);
    if received == 0 {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("{file} is empty: upload an image archive"),
        ));
    }
    hub.announce(vec![Event::ImageImport {
        file: file.to_string(),
        unpacking: false,
        done: received,
        total: Some(received),
    }]);

    // The import blocks (decompression, hashing, unpacking): a thread of
    // its own, its progress read off a hidden bar.
    let bar = ProgressBar::hidden();
    let data_dir = uploads.data_dir.clone();
    let limits = uploads.limits;
    let (import_path, import_name, import_bar) =
        (path.clone(), name.map(str::to_string), bar.clone());
    let mut import = tokio::task::spawn_blocking(move || {
        let store = crate::images::open_store_with(&data_dir, limits)?;
        store.import(&import_path, import_name.as_deref(), &import_bar)
    });
    let result = loop {
        tokio::select! {
            done = &mut import => break done,
            _ = tokio::time::sleep(PROGRESS_EVERY) => {
                hub.announce(vec![Event::ImageImport {
                    file: file.to_string(),
                    unpacking: true,
                    done: bar.position(),
                    total: bar.length(),
                }]);
            }
        }
    };
    let shown = path.display().to_string();
    let imported = match result {
        Ok(Ok(imported)) => imported,
        Ok(Err(err)) => {
            return Err((
                StatusCode::BAD_REQUEST,
                err.to_string().replace(&shown, file),
            ));
        }
        Err(join) => {
            return Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the import of {file} failed: {join}"),
            ));
        }
    };
    hub.announce(
        imported
            .iter()
            .map(|image| Event::ImageImported {
                id: image.id.0.clone(),
                names: image.names.clone(),
            })
            .collect(),
    );
    let json: Vec<serde_json::Value> = imported
        .iter()
        .map(|image| {
            serde_json::json!({
                "id": image.id.0,
                "names": image.names,
                "existed": image.existed,
                "layers": image.layers,
                "bytes": image.bytes,
                "skipped_devices": image.skipped,
            })
        })
        .collect();
    Ok(serde_json::to_string(&json).expect("JSON values encode"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploaded_names_are_kept_safe() {
        assert_eq!(
            safe_file_name("busybox.tar.gz").as_deref(),
            Some("busybox.tar.gz")
        );
        assert_eq!(
            safe_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            safe_file_name("my image (1).tar").as_deref(),
            Some("myimage1.tar")
        );
        assert_eq!(safe_file_name(".hidden"), None);
        assert_eq!(safe_file_name("///"), None);
        assert_eq!(percent_decode("web%3Alatest+x"), "web:latest x");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%é"), "%zz%é");
    }
}
