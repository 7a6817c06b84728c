//! The relay's messages (`berth::relay::protocol`) from hostile bytes: a
//! relay parses what players send ([`ClientMessage`]) and a player parses
//! what the relay sends ([`RelayMessage`]). For any input: no panic, and a
//! message that parses emits back to exactly the bytes it came from, with
//! the length `encoded_len` promised.

use berth::relay::protocol::{ClientMessage, RelayMessage};

/// Parses `data` both ways and checks every message that parses.
pub fn relay_messages(data: &[u8]) {
    if let Ok(message) = ClientMessage::parse(data) {
        let bytes = message.to_vec();
        assert_eq!(bytes.len(), message.encoded_len());
        assert_eq!(bytes, data, "{message:?} re-emits differently");
    }
    if let Ok(message) = RelayMessage::parse(data) {
        let bytes = message.to_vec();
        assert_eq!(bytes.len(), message.encoded_len());
        assert_eq!(bytes, data, "{message:?} re-emits differently");
    }
}
