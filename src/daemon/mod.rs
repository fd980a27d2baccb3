//! The long-running service (`gdr serve`) and its systemd integration.

pub mod systemd;
