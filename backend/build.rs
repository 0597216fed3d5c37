//! Makes sure the frontend's dist folder exists, so the server builds before the
//! frontend has been built (it then serves a page that says how to build it).

fn main() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend/dist");
    if let Err(e) = std::fs::create_dir_all(&dist) {
        println!("cargo::warning=cannot create {}: {e}", dist.display());
    }
    // A release build embeds whatever Trunk last wrote there.
    println!("cargo::rerun-if-changed=../frontend/dist");
}
