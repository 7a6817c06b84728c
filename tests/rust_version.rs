//! The `rust-version` berth declares is true: no crate the library builds
//! on (its normal dependencies, for this host, as locked) declares a newer
//! one. A dependency update that raises the floor fails here until the
//! declaration follows it.

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::process::Command;

/// `1.87` or `1.87.0` as comparable numbers.
fn version(v: &str) -> Vec<u32> {
    v.split('.').map(|part| part.parse().unwrap_or(0)).collect()
}

#[test]
fn no_library_dependency_needs_a_newer_rust_than_berth_declares() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let host = Command::new(&rustc).arg("-vV").output().expect("rustc -vV");
    let host = String::from_utf8_lossy(&host.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: ").map(str::to_owned))
        .expect("a host triple");
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--filter-platform",
            &host,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata JSON");

    let packages: HashMap<&str, &Value> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().expect("an id"), p))
        .collect();
    let nodes: HashMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .expect("resolve nodes")
        .iter()
        .map(|n| (n["id"].as_str().expect("an id"), n))
        .collect();
    let berth = packages
        .values()
        .find(|p| p["name"] == "berth")
        .expect("the berth package");
    let declared = version(
        berth["rust_version"]
            .as_str()
            .expect("berth declares a rust-version"),
    );

    // The library's closure: normal dependencies only (kind null), not dev
    // or build ones of berth itself.
    let mut seen = HashSet::new();
    let mut stack = vec![berth["id"].as_str().expect("an id")];
    let mut newer = Vec::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let package = packages[id];
        if let Some(needed) = package["rust_version"].as_str() {
            if version(needed) > declared {
                newer.push(format!(
                    "{} {} needs {needed}",
                    package["name"], package["version"]
                ));
            }
        }
        for dep in nodes[id]["deps"].as_array().expect("deps") {
            let normal = dep["dep_kinds"]
                .as_array()
                .expect("dep kinds")
                .iter()
                .any(|kind| kind["kind"].is_null());
            if normal {
                stack.push(dep["pkg"].as_str().expect("a package id"));
            }
        }
    }
    assert!(
        seen.len() > 10,
        "the dependency walk found only {} crates",
        seen.len()
    );
    assert!(
        newer.is_empty(),
        "berth declares rust-version {}, but: {newer:?}",
        berth["rust_version"]
    );
}
