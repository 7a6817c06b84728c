//! Drawing the arena in the terminal (crossterm); restored on drop.

use super::game::{Game, HEIGHT, WIDTH};
use crossterm::style::{Color, Print, ResetColor, SetForegroundColor};
use crossterm::{cursor, execute, queue, terminal};
use std::io::{Stdout, Write, stdout};

/// Colours of players 1 to 4.
const COLORS: [Color; 4] = [Color::Cyan, Color::Magenta, Color::Yellow, Color::Green];

/// The terminal in raw mode on the alternate screen, until dropped.
pub(crate) struct Screen {
    out: Stdout,
}

impl Screen {
    /// Takes over the terminal.
    pub(crate) fn enter() -> std::io::Result<Self> {
        terminal::enable_raw_mode()?;
        let mut out = stdout();
        execute!(out, terminal::EnterAlternateScreen, cursor::Hide)?;
        Ok(Self { out })
    }

    /// Draws the whole frame.
    pub(crate) fn draw(&mut self, game: &Game, status: &str) -> std::io::Result<()> {
        let out = &mut self.out;
        queue!(out, terminal::Clear(terminal::ClearType::All))?;
        for y in 0..HEIGHT {
            queue!(out, cursor::MoveTo(0, u16::from(y)))?;
            let row: String = (0..WIDTH)
                .map(|x| {
                    if x == 0 || y == 0 || x == WIDTH - 1 || y == HEIGHT - 1 {
                        '#'
                    } else {
                        ' '
                    }
                })
                .collect();
            queue!(out, Print(row))?;
        }
        let (cx, cy) = game.coin_at(game.coin);
        queue!(
            out,
            cursor::MoveTo(u16::from(cx), u16::from(cy)),
            SetForegroundColor(Color::DarkYellow),
            Print('$')
        )?;
        for (i, p) in game.players.iter().enumerate() {
            if !p.present {
                continue;
            }
            let glyph = if i == usize::from(game.me) {
                '@'
            } else {
                char::from(b'1' + i as u8)
            };
            queue!(
                out,
                cursor::MoveTo(u16::from(p.x), u16::from(p.y)),
                SetForegroundColor(COLORS[i % COLORS.len()]),
                Print(glyph)
            )?;
        }
        queue!(out, ResetColor)?;
        for (i, p) in game.players.iter().enumerate() {
            let who = if i == usize::from(game.me) {
                " (you)"
            } else {
                ""
            };
            let gone = if p.present { "" } else { " - left" };
            queue!(
                out,
                cursor::MoveTo(0, u16::from(HEIGHT) + i as u16),
                SetForegroundColor(COLORS[i % COLORS.len()]),
                Print(format!("player {}{who}: {} coins{gone}", i + 1, p.score)),
                ResetColor
            )?;
        }
        queue!(out, cursor::MoveTo(0, u16::from(HEIGHT) + 5), Print(status))?;
        out.flush()
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = execute!(self.out, cursor::Show, terminal::LeaveAlternateScreen);
        let _ = terminal::disable_raw_mode();
    }
}
