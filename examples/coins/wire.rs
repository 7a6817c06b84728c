//! The game's own messages, carried as relay proxy data.

/// What one player tells the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GameMessage {
    /// Where I am (unreliable, 20 times a second).
    Position { x: u8, y: u8 },
    /// I reached coin `k` `elapsed_ms` after I saw it (reliable, to the
    /// authority).
    Claim { k: u16, elapsed_ms: u32 },
    /// Coin `k` goes to `player` (reliable, from the authority to all).
    Award { k: u16, player: u8 },
}

impl GameMessage {
    /// The message's bytes.
    pub(crate) fn to_bytes(self) -> Vec<u8> {
        match self {
            Self::Position { x, y } => vec![0, x, y],
            Self::Claim { k, elapsed_ms } => {
                let mut bytes = vec![1];
                bytes.extend_from_slice(&k.to_le_bytes());
                bytes.extend_from_slice(&elapsed_ms.to_le_bytes());
                bytes
            }
            Self::Award { k, player } => {
                let [a, b] = k.to_le_bytes();
                vec![2, a, b, player]
            }
        }
    }

    /// Reads a message another player sent; `None` for anything malformed.
    pub(crate) fn parse(bytes: &[u8]) -> Option<Self> {
        match *bytes {
            [0, x, y] => Some(Self::Position { x, y }),
            [1, a, b, e0, e1, e2, e3] => Some(Self::Claim {
                k: u16::from_le_bytes([a, b]),
                elapsed_ms: u32::from_le_bytes([e0, e1, e2, e3]),
            }),
            [2, a, b, player] => Some(Self::Award {
                k: u16::from_le_bytes([a, b]),
                player,
            }),
            _ => None,
        }
    }
}
