//! `uniffi-bindgen`: generates the Kotlin and Swift sources from the built library, e.g.
//! `cargo run -p gridwork-ffi --bin uniffi-bindgen -- generate --no-format --library
//! target/debug/libgridwork_ffi.so --language kotlin --out-dir build/kotlin`. Kept in this crate
//! so the generator's version always matches the uniffi the library was built with.

fn main() {
    uniffi::uniffi_bindgen_main()
}
