//! The daemon's conversation with its supervisor: SIGHUP reloads the
//! configuration (a file that fails to load is logged with
//! FILE:LINE:COLUMN and the running configuration stays), SIGTERM and
//! SIGINT start the shutdown, and systemd hears READY=1, RELOADING=1,
//! STOPPING=1 and watchdog pings over `NOTIFY_SOCKET` (no-ops without it).

use std::net::SocketAddr;
use std::path::PathBuf;

use sd_notify::NotifyState;
use tokio::signal::unix::{signal, SignalKind};

use crate::config::{LoadOptions, ServerConfig};
use crate::server::Reloader;

/// Tell systemd (when it is listening) `state`.
pub fn notify(state: &[NotifyState]) {
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        if let Err(e) = sd_notify::notify(state) {
            tracing::warn!("cannot notify systemd: {e}");
        }
    }
}

/// Ping the watchdog at half its interval, when `WatchdogSec` is set.
pub async fn watchdog() {
    let Some(every) = sd_notify::watchdog_enabled() else {
        return std::future::pending().await;
    };
    let mut tick = tokio::time::interval(every / 2);
    loop {
        tick.tick().await;
        notify(&[NotifyState::Watchdog]);
    }
}

/// Completes on SIGTERM or SIGINT, after telling systemd STOPPING=1.
pub async fn shutdown() {
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    notify(&[NotifyState::Stopping]);
}

fn failed(reloader: &Reloader, path: &std::path::Path, error: String) {
    tracing::error!("reload failed, keeping the running configuration: {error}");
    // logrotate's HUP still gets its fresh audit file.
    reloader.reopen_audit();
    reloader.audit_reload(path, Some(error));
}

/// Reload `path` on every SIGHUP. `listen` (the command line's override)
/// is kept: listeners do not change without a restart.
pub async fn reload_on_hup(path: PathBuf, listen: Vec<SocketAddr>, reloader: Reloader) {
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return std::future::pending().await;
    };
    while hup.recv().await.is_some() {
        let mut states = vec![NotifyState::Reloading];
        if let Ok(now) = NotifyState::monotonic_usec_now() {
            states.push(now);
        }
        notify(&states);
        let loaded = tokio::task::spawn_blocking({
            let path = path.clone();
            move || ServerConfig::load(&path, &LoadOptions::default())
        })
        .await;
        match loaded {
            Ok(Ok(mut config)) => {
                if !listen.is_empty() {
                    config.listen = listen.clone();
                }
                for warning in &config.warnings {
                    tracing::warn!("{warning}");
                }
                match reloader.apply(config) {
                    Ok(()) => {
                        tracing::info!(
                            "reloaded {}: new connections use the new configuration",
                            path.display()
                        );
                        reloader.audit_reload(&path, None);
                    }
                    Err(e) => failed(&reloader, &path, e.to_string()),
                }
            }
            Ok(Err(e)) => failed(&reloader, &path, e.to_string()),
            Err(e) => failed(&reloader, &path, e.to_string()),
        }
        notify(&[NotifyState::Ready]);
    }
}
