//! The relay binary, as an example: `cargo run --release --example relay --
//! --help`. It is `crates/berth-relay` (install it with `cargo install
//! --path crates/berth-relay` to get a `berth-relay` command); see that
//! crate's docs for its flags, HTTP endpoints and environment variables.

fn main() -> std::process::ExitCode {
    berth_relay::main()
}
