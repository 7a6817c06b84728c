//! Issuing connect tokens.
//!
//! A game's backend authenticates a player, then hands it a connect token
//! made here with the private key it shares with its servers. The token
//! names the servers to try, how long it may be used, and what the server
//! learns about the client (id and user data).

use crate::crypto::{Key, OsRandom, Random, TOKEN_NONCE_LEN};
use crate::wire::connect_token::{
    ConnectToken, MAX_SERVERS, PRIVATE_LEN, PrivateToken, ServerAddresses, USER_DATA_LEN, UserData,
};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why a token could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// No server address was given.
    #[error("a connect token needs at least one server address")]
    NoServers,
    /// More than 32 server addresses were given.
    #[error("a connect token holds at most {MAX_SERVERS} server addresses, got {0}")]
    TooManyServers(usize),
    /// The system clock is before 1970.
    #[error("the system clock reads before the unix epoch")]
    ClockBeforeEpoch,
    /// A duration does not fit the token's 32-bit seconds field.
    #[error("{what} of {secs} s does not fit in a token (at most {} s)", i32::MAX)]
    DurationTooLong {
        /// Which setting.
        what: &'static str,
        /// The value asked for, in seconds.
        secs: u64,
    },
}

/// Builds connect tokens.
///
/// Defaults follow the reference examples: the token expires 30 s after it
/// is made, a connection times out after 5 s without packets, user data is
/// zeros.
///
/// # Examples
///
/// ```
/// use berth::{ConnectTokenBuilder, Key};
/// use std::time::Duration;
///
/// let key = Key::from_bytes([1; 32]);
/// let token = ConnectTokenBuilder::new(0x1122334455667788, 7)
///     .server("127.0.0.1:40000".parse().unwrap())
///     .server("[::1]:40000".parse().unwrap())
///     .expire_after(Duration::from_secs(60))
///     .timeout(Some(Duration::from_secs(10)))
///     .user_data([9; 256])
///     .build(&key)
///     .unwrap();
/// assert_eq!(token.server_addresses.as_slice().len(), 2);
/// assert_eq!(token.timeout_secs, 10);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ConnectTokenBuilder {
    protocol_id: u64,
    client_id: u64,
    public: Vec<SocketAddr>,
    internal: Vec<Option<SocketAddr>>,
    expire_after: Duration,
    timeout: Option<Duration>,
    user_data: UserData,
}

impl ConnectTokenBuilder {
    /// Starts a token for `client_id` on the game with `protocol_id`.
    pub fn new(protocol_id: u64, client_id: u64) -> Self {
        Self {
            protocol_id,
            client_id,
            public: Vec::new(),
            internal: Vec::new(),
            expire_after: Duration::from_secs(30),
            timeout: Some(Duration::from_secs(5)),
            user_data: [0; USER_DATA_LEN],
        }
    }

    /// Adds a server the client will try, in order; the server sees the same address.
    pub fn server(mut self, addr: SocketAddr) -> Self {
        self.public.push(addr);
        self.internal.push(None);
        self
    }

    /// Adds a server the client reaches at `public`, which knows itself as
    /// `internal` (behind NAT or a load balancer).
    pub fn server_behind(mut self, public: SocketAddr, internal: SocketAddr) -> Self {
        self.public.push(public);
        self.internal.push(Some(internal));
        self
    }

    /// How long after issue the token is accepted. Default 30 s.
    pub const fn expire_after(mut self, expire_after: Duration) -> Self {
        self.expire_after = expire_after;
        self
    }

    /// How long a connection may go without packets; `None` never times out. Default 5 s.
    pub const fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Data for the server about this client (256 bytes, opaque to berth).
    pub const fn user_data(mut self, user_data: UserData) -> Self {
        self.user_data = user_data;
        self
    }

    /// Makes the token now, with fresh random keys and nonce.
    ///
    /// # Errors
    ///
    /// See [`TokenError`].
    pub fn build(&self, private_key: &Key) -> Result<ConnectToken, TokenError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| TokenError::ClockBeforeEpoch)?
            .as_secs();
        self.build_with(private_key, now, &mut OsRandom)
    }

    /// Makes the token as of `now_unix_secs`, drawing keys and nonce from
    /// `random`: deterministic for tests and known-answer vectors.
    ///
    /// # Errors
    ///
    /// See [`TokenError`].
    pub fn build_with(
        &self,
        private_key: &Key,
        now_unix_secs: u64,
        random: &mut dyn Random,
    ) -> Result<ConnectToken, TokenError> {
        let count = self.public.len();
        if count == 0 {
            return Err(TokenError::NoServers);
        }
        if count > MAX_SERVERS {
            return Err(TokenError::TooManyServers(count));
        }
        let internal: Vec<SocketAddr> = self
            .public
            .iter()
            .zip(&self.internal)
            .map(|(public, internal)| internal.unwrap_or(*public))
            .collect();
        let public = ServerAddresses::new(&self.public).map_err(|_| TokenError::NoServers)?;
        let internal = ServerAddresses::new(&internal).map_err(|_| TokenError::NoServers)?;
        let timeout_secs = match self.timeout {
            None => -1,
            Some(t) => secs_i32("timeout", t)?,
        };
        let expire_unix_secs =
            now_unix_secs.saturating_add(secs_i32("expiry", self.expire_after)? as u64);

        let client_to_server_key = Key::generate(random);
        let server_to_client_key = Key::generate(random);
        let mut nonce = [0u8; TOKEN_NONCE_LEN];
        random.fill(&mut nonce);

        let private = PrivateToken {
            client_id: self.client_id,
            timeout_secs,
            server_addresses: internal,
            client_to_server_key: client_to_server_key.clone(),
            server_to_client_key: server_to_client_key.clone(),
            user_data: self.user_data,
        };
        let mut sealed = [0u8; PRIVATE_LEN];
        private
            .seal(
                private_key,
                self.protocol_id,
                expire_unix_secs,
                &nonce,
                &mut sealed,
            )
            .map_err(|_| TokenError::TooManyServers(count))?;

        Ok(ConnectToken {
            protocol_id: self.protocol_id,
            create_unix_secs: now_unix_secs,
            expire_unix_secs,
            nonce,
            private: sealed,
            timeout_secs,
            server_addresses: public,
            client_to_server_key,
            server_to_client_key,
        })
    }
}

fn secs_i32(what: &'static str, d: Duration) -> Result<i32, TokenError> {
    i32::try_from(d.as_secs()).map_err(|_| TokenError::DurationTooLong {
        what,
        secs: d.as_secs(),
    })
}
