//! Command-line pieces both binaries share: NATS credentials.

use crate::nats::NatsOptions;
use clap::Args;

/// NATS credentials, from flags or the environment (never from files in
/// the repository). For TLS, give a `tls://` URL.
#[derive(Debug, Clone, Args)]
pub struct NatsAuth {
    /// NATS user name (with --nats-password).
    #[arg(
        long,
        env = "BERTH_NATS_USER",
        value_name = "USER",
        requires = "nats_password"
    )]
    pub nats_user: Option<String>,
    /// NATS password (with --nats-user).
    #[arg(
        long,
        env = "BERTH_NATS_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub nats_password: Option<String>,
    /// NATS token, for servers that authenticate by token.
    #[arg(
        long,
        env = "BERTH_NATS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub nats_token: Option<String>,
}

impl NatsAuth {
    /// Options for NATS at `url`, naming the client `name`.
    pub fn options(&self, url: &str, name: &str) -> NatsOptions {
        NatsOptions {
            url: url.into(),
            user: self.nats_user.clone().zip(self.nats_password.clone()),
            token: self.nats_token.clone(),
            name: name.into(),
        }
    }
}
