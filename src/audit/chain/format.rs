//! What each chain format hashes of a row, and what is kept of a client address.

use super::{Row, FORMAT_KEPT_ADDR};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// What is kept of a client address for good: its IPv4 /24 or IPv6 /48 network.
const KEPT_V4: u8 = 24;
const KEPT_V6: u8 = 48;

fn put(hasher: &mut Sha256, field: Option<&str>) {
    // Present/absent marker and length prefix: no two different rows hash the same bytes.
    match field {
        None => hasher.update([0u8]),
        Some(text) => {
            hasher.update([1u8]);
            hasher.update((text.len() as u64).to_be_bytes());
            hasher.update(text.as_bytes());
        }
    }
}

fn hex(hasher: Sha256) -> String {
    data_encoding::HEXLOWER.encode(&hasher.finalize())
}

/// Format 1: every field as stored, the full client address included.
pub(super) fn hash_v1(prev: &str, seq: i64, row: &Row) -> String {
    let mut h = Sha256::new();
    put(&mut h, Some(prev));
    h.update(seq.to_be_bytes());
    for field in [
        Some(row.id.as_str()),
        Some(row.at.as_str()),
        row.actor_org_id.as_deref(),
        row.actor_user_id.as_deref(),
        row.client_addr.as_deref(),
        Some(row.action.as_str()),
        row.subject_id.as_deref(),
        Some(row.detail.as_str()),
    ] {
        put(&mut h, field);
    }
    hex(h)
}

/// The fields format 2 covers: the address only by what is kept of it and its commitment, so
/// truncating it changes nothing.
fn put_kept_fields(h: &mut Sha256, row: &Row) {
    let kept = row.client_addr.as_deref().map(kept_addr);
    for field in [
        Some(row.id.as_str()),
        Some(row.at.as_str()),
        row.actor_org_id.as_deref(),
        row.actor_user_id.as_deref(),
        kept.as_deref(),
        row.client_addr_digest.as_deref(),
        Some(row.action.as_str()),
        row.subject_id.as_deref(),
        Some(row.detail.as_str()),
    ] {
        put(h, field);
    }
}

pub(super) fn hash_v2(prev: &str, seq: i64, row: &Row) -> String {
    let mut h = Sha256::new();
    put(&mut h, Some(prev));
    h.update(seq.to_be_bytes());
    h.update([FORMAT_KEPT_ADDR as u8]);
    put_kept_fields(&mut h, row);
    hex(h)
}

/// One step of the digest over converted format-1 rows: the stored hash and the format-2 fields.
pub(super) fn fold(acc: &str, seq: i64, row: &Row) -> String {
    let mut h = Sha256::new();
    put(&mut h, Some(acc));
    h.update(seq.to_be_bytes());
    put(&mut h, row.hash.as_deref());
    put_kept_fields(&mut h, row);
    hex(h)
}

/// What is kept of a client address after truncation: `203.0.113.0/24`, `2001:db8:1::/48`
/// (an IPv4 address seen over IPv6 as IPv4). A network already that short, or text that is no
/// address, is kept as it is.
pub fn kept_addr(addr: &str) -> String {
    let net = match addr.parse::<IpAddr>() {
        Ok(ip) => IpNet::from(ip.to_canonical()),
        Err(_) => match addr.parse::<IpNet>() {
            Ok(net) => net,
            Err(_) => return addr.to_string(),
        },
    };
    let kept = match net {
        IpNet::V4(n) => Ipv4Net::new(n.addr(), n.prefix_len().min(KEPT_V4)).map(IpNet::from),
        IpNet::V6(n) => Ipv6Net::new(n.addr(), n.prefix_len().min(KEPT_V6)).map(IpNet::from),
    };
    kept.map(|n| n.trunc().to_string())
        .unwrap_or_else(|_| addr.to_string())
}

/// `SHA-256(salt ‖ full address)`, hex.
fn commitment(salt: &str, addr: &str) -> String {
    let mut h = Sha256::new();
    put(&mut h, Some(salt));
    put(&mut h, Some(addr));
    hex(h)
}

fn new_salt() -> String {
    let mut raw = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut raw);
    data_encoding::HEXLOWER.encode(&raw)
}

/// Gives a row with a client address its salt and commitment.
pub(super) fn commit_addr(row: &mut Row) {
    if let Some(addr) = &row.client_addr {
        let salt = new_salt();
        row.client_addr_digest = Some(commitment(&salt, addr));
        row.client_addr_salt = Some(salt);
    }
}

/// What is wrong with the address of a row whose hash covers its commitment: a full address
/// must match its commitment, and only a truncated one may have lost its salt.
pub(super) fn addr_problem(row: &Row) -> bool {
    match (
        &row.client_addr,
        &row.client_addr_salt,
        &row.client_addr_digest,
    ) {
        (Some(addr), Some(salt), Some(digest)) => commitment(salt, addr) != *digest,
        (Some(addr), None, _) => kept_addr(addr) != *addr,
        (Some(_), Some(_), None) => true,
        (None, _, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(addr: Option<&str>) -> Row {
        Row {
            id: "e1".into(),
            at: "2026-01-05T10:00:00.000000Z".into(),
            actor_org_id: None,
            actor_user_id: Some("u1".into()),
            client_addr: addr.map(str::to_string),
            action: "pass.issued".into(),
            subject_id: Some("p1".into()),
            detail: "5 chèques".into(),
            chain_seq: Some(1),
            hash: None,
            chain_format: Some(super::super::FORMAT_FULL_ADDR),
            client_addr_digest: None,
            client_addr_salt: None,
        }
    }

    /// Rows sealed before migration 0025 were hashed so: the formula must never change.
    #[test]
    fn format_1_hashes_as_before() {
        assert_eq!(
            hash_v1(super::super::GENESIS, 1, &row(Some("203.0.113.7"))),
            "e5d92928f31a0e44217d0c533c9697da073b25e6a2676f869e6344758b278847"
        );
    }

    #[test]
    fn addresses_keep_their_network() {
        for (addr, kept) in [
            ("203.0.113.7", "203.0.113.0/24"),
            ("203.0.113.0/24", "203.0.113.0/24"),
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("::ffff:203.0.113.7", "203.0.113.0/24"),
            ("2001:db8:1:2:3::4", "2001:db8:1::/48"),
            ("2001:db8:1::/48", "2001:db8:1::/48"),
            ("pas une adresse", "pas une adresse"),
        ] {
            assert_eq!(kept_addr(addr), kept, "{addr}");
        }
    }

    #[test]
    fn truncating_keeps_the_format_2_hash_and_the_commitment_binds_the_address() {
        let mut r = row(Some("203.0.113.7"));
        commit_addr(&mut r);
        assert!(!addr_problem(&r));
        let sealed = hash_v2("prev", 7, &r);
        r.client_addr = Some(kept_addr("203.0.113.7"));
        r.client_addr_salt = None;
        assert_eq!(hash_v2("prev", 7, &r), sealed);
        assert!(!addr_problem(&r));

        let mut r = row(Some("203.0.113.7"));
        commit_addr(&mut r);
        r.client_addr = Some("203.0.113.8".into());
        assert!(addr_problem(&r), "another full address");
        r.client_addr_salt = None;
        assert!(addr_problem(&r), "a full address without its salt");
    }
}
