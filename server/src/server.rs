//! Starting and stopping `mesh serve`: data directory and secrets, database,
//! the HTTP listener, and graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use mesh_proto::{MAX_REST_BODY_BYTES, MAX_WS_FRAME_BYTES};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::calls::Calls;
use crate::config::Config;
use crate::hub::Hub;
use crate::media::Media;
use crate::metrics::Metrics;
use crate::relay::Relay;
use crate::secrets;
use crate::store::Store;
use crate::throttle::LoginThrottle;
use crate::tokens::AccessTokens;
use crate::{api, web, ws, App, SharedApp};

const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the server until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    secrets::ensure_private_dir(&config.data_dir)?;
    let token_key = secrets::load_or_create(&config.data_dir.join("token.key"))?;
    let store = Store::open(&config.data_dir.join("mesh.db"))?;

    let listener = TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("cannot listen on {} (MESH_HTTP_ADDR)", config.http_addr))?;
    let local = listener.local_addr()?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| local_url(local));

    let (media, media_events) = match &config.sfu {
        Some(settings) => match Media::start(settings).await {
            Ok((media, events)) => (Some(media), Some(events)),
            Err(err) => {
                tracing::error!(error = %format!("{err:#}"), port = settings.media_port,
                    "the SFU could not start (MESH_MEDIA_PORT); calls stay peer-to-peer");
                (None, None)
            }
        },
        None => (None, None),
    };

    let relay = match &config.turn {
        Some(settings) => {
            let public_ip = config.public_ip;
            let sfu_media = media
                .as_ref()
                .zip(config.sfu.as_ref())
                .map(|(media, sfu)| SocketAddr::new(sfu.public_ip, media.port()));
            match Relay::start(
                settings,
                &config.data_dir,
                public_ip,
                &public_url,
                sfu_media,
            )
            .await
            {
                Ok(relay) => Some(relay),
                Err(err) => {
                    tracing::error!(error = %format!("{err:#}"), port = settings.port,
                        "the TURN relay could not start (MESH_TURN_PORT); calls need direct paths");
                    None
                }
            }
        }
        None => None,
    };

    let notifier = crate::notify::Notifier::new(&config.notify)?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let app: SharedApp = Arc::new(App {
        tokens: AccessTokens::new(&token_key, config.access_token_ttl),
        config,
        public_url: public_url.clone(),
        store,
        hub: Hub::default(),
        calls: Calls::default(),
        media,
        relay,
        login_throttle: LoginThrottle::new(LOGIN_WINDOW),
        password_hashing: Semaphore::new(
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        ),
        metrics: Metrics::default(),
        notify: notifier,
        shutdown: shutdown_rx,
    });

    if let Some(events) = media_events {
        tokio::spawn(crate::media::run_events(app.clone(), events));
    }
    tokio::spawn(crate::calls::run_clock(app.clone()));
    let notify_worker = tokio::spawn(crate::notify::worker::run(app.clone()));

    let router = router(app.clone());
    tracing::info!(address = %local, url = %public_url, "listening");
    // Scripts and people look for this line.
    println!("Mesh is running at {public_url}");

    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: closing connections");
        let _ = shutdown_tx.send(true);
    })
    .await?;

    let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
    while app.hub.connection_count() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The worker finishes the deliveries under way (each bounded by its timeout).
    if tokio::time::timeout(DRAIN_TIMEOUT, notify_worker)
        .await
        .is_err()
    {
        tracing::warn!("notification deliveries still running at shutdown; they will be retried");
    }
    app.store.checkpoint().await?;
    if let Some(relay) = Arc::into_inner(app).and_then(|app| app.relay) {
        relay.stop().await;
    }
    tracing::info!("stopped");
    Ok(())
}

fn local_url(local: SocketAddr) -> String {
    if local.ip().is_unspecified() {
        format!("http://localhost:{}", local.port())
    } else {
        format!("http://{local}")
    }
}

pub fn router(app: SharedApp) -> Router {
    let (api_routes, openapi) = api::router();
    let openapi = Arc::new(openapi);
    api_routes
        .route(
            "/api/v1/openapi.json",
            get(move || async move { Json(openapi.as_ref().clone()) }),
        )
        .route("/api/v1/ws", get(websocket))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(web::serve)
        .layer(DefaultBodyLimit::max(MAX_REST_BODY_BYTES))
        .layer(middleware::from_fn_with_state(app.clone(), api::observe))
        .layer(middleware::from_fn(api::harden))
        .with_state(app)
}

async fn websocket(State(app): State<SharedApp>, upgrade: WebSocketUpgrade) -> Response {
    // Small buffers: most connections are idle most of the time, and the
    // 128 KiB defaults would dominate the server's memory per connection.
    upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(MAX_WS_FRAME_BYTES)
        .max_frame_size(MAX_WS_FRAME_BYTES)
        .on_upgrade(move |socket| ws::serve(app, socket))
}

async fn healthz(State(app): State<SharedApp>) -> Response {
    match app
        .store
        .call(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
        .await
    {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

async fn metrics(State(app): State<SharedApp>) -> Response {
    if let Ok(rooms) = app
        .store
        .call(|conn| {
            Ok(conn.query_row("SELECT COUNT(*) FROM rooms", [], |row| row.get::<_, i64>(0))?)
        })
        .await
    {
        app.metrics.rooms.set(rooms);
    }
    if let Some(media) = &app.media {
        app.metrics.record_sfu(&media.metrics());
    }
    if let Some(relay) = &app.relay {
        app.metrics.record_turn(&relay.metrics());
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

/// SIGTERM or Ctrl-C.
pub async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
