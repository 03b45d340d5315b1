//! The allocator the `nakachain` binary runs with (see `src/main.rs`), so that the benches
//! measure what ships. Each bench target includes it through `#[path]`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
