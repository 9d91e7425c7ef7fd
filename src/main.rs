//! The `passnum` binary: see `passnum::cli`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    passnum::cli::run().await
}
