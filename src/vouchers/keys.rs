//! Where signing keys live: a file (one `KEYID base64-secret` per line, oldest first) or the
//! `PASSNUM_SIGNING_KEYS` environment variable (`KEYID:base64,KEYID:base64`). Never the database,
//! so a stolen database dump cannot mint cheques.

use super::codes::{Keyring, SigningKey};
use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::io::Write;
use std::path::Path;

pub fn parse_env(spec: &str) -> anyhow::Result<Keyring> {
    let keys = spec
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|entry| {
            let (id, secret) = entry
                .trim()
                .split_once(':')
                .context("PASSNUM_SIGNING_KEYS entries are KEYID:base64secret")?;
            decode_key(id, secret)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Keyring::new(keys).map_err(anyhow::Error::msg)
}

fn decode_key(id: &str, secret: &str) -> anyhow::Result<SigningKey> {
    let secret = STANDARD
        .decode(secret.trim())
        .with_context(|| format!("the secret of key {id} is not base64"))?;
    SigningKey::new(id.trim(), secret).map_err(anyhow::Error::msg)
}

pub fn read_file(path: &Path) -> anyhow::Result<Keyring> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the keys file {}", path.display()))?;
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((id, secret)) = line.split_once(char::is_whitespace) else {
            bail!(
                "{}:{}: expected `KEYID base64secret`",
                path.display(),
                n + 1
            );
        };
        keys.push(decode_key(id, secret).with_context(|| format!("{}:{}", path.display(), n + 1))?);
    }
    Keyring::new(keys).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The embedded default needs no set-up: the first start writes a keys file with one key.
pub fn load_or_create(path: &Path) -> anyhow::Result<Keyring> {
    if !path.exists() {
        append_key(
            path,
            &SigningKey::generate("K1").map_err(anyhow::Error::msg)?,
        )?;
    }
    read_file(path)
}

/// Adds a key that becomes the one signing new cheques; older keys keep verifying.
pub fn rotate(path: &Path) -> anyhow::Result<SigningKey> {
    let ring = read_file(path)?;
    let next = (1..)
        .map(|n| format!("K{n}"))
        .find(|id| ring.keys().iter().all(|k| &k.id != id))
        .context("no free key id")?;
    let key = SigningKey::generate(next).map_err(anyhow::Error::msg)?;
    append_key(path, &key)?;
    Ok(key)
}

/// Takes key `id` out of the keys file (rewritten whole, then renamed over the old one, so a
/// crash leaves one file or the other). The current (last) key cannot be removed.
pub fn remove(path: &Path, id: &str) -> anyhow::Result<()> {
    let ring = read_file(path)?;
    if ring.current().id == id {
        bail!("key {id} signs new cheques: rotate first, then retire it once its cheques have expired");
    }
    if ring.keys().iter().all(|k| k.id != id) {
        bail!("no key {id} in {}", path.display());
    }
    let text = std::fs::read_to_string(path)?;
    let kept: String = text
        .lines()
        .filter(|line| line.split_whitespace().next() != Some(id))
        .map(|line| format!("{line}\n"))
        .collect();
    let temp = path.with_extension("retiring");
    let mut options = std::fs::OpenOptions::new();
    options.create(true).write(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&temp)
        .with_context(|| format!("cannot write {}", temp.display()))?;
    file.write_all(kept.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temp, path)?;
    Ok(())
}

fn append_key(path: &Path, key: &SigningKey) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write the keys file {}", path.display()))?;
    writeln!(file, "{} {}", key.id, STANDARD.encode(key.secret()))?;
    file.sync_all()?;
    Ok(())
}

/// The signing keys a server signs and verifies with: `PASSNUM_SIGNING_KEYS` when set, else
/// the keys file (created with one key on first start).
pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Keyring> {
    match &config.signing_keys {
        Some(spec) => parse_env(spec),
        None => load_or_create(&config.keys_file),
    }
}
