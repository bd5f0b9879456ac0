//! Build script: records what `mixdown --version` reports about the build, the enabled cargo
//! features and the target triple, which only the build knows.

fn main() {
    // Cargo sets CARGO_FEATURE_<NAME> (upper case, `-` as `_`) for every enabled feature.
    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| {
            k.strip_prefix("CARGO_FEATURE_")
                .map(|f| f.to_lowercase().replace('_', "-"))
        })
        .collect();
    features.sort();
    let features = if features.is_empty() {
        "none".to_string()
    } else {
        features.join(", ")
    };
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=MIXDOWN_FEATURES={features}");
    println!("cargo:rustc-env=MIXDOWN_TARGET={target}");
    println!("cargo:rustc-env=MIXDOWN_PROFILE={profile}");
    println!("cargo:rerun-if-changed=build.rs");
}
