//! Invalid codes are counted per site and per address, and too many refuse redemption for a
//! while (429): guessing a cheque's code cannot go on. A site's own mistakes block that site;
//! an address is allowed five times as many, because many sites share one (a France Services
//! counter, a mobile carrier's address), and one clumsy site must not close its neighbours'
//! desks, while one attacker holding several sites' tokens is still bounded.

use crate::db::Db;
use crate::error::Result;
use crate::ratelimit::RateLimiter;
use jiff::Timestamp;
use std::net::IpAddr;
use std::sync::Arc;

/// How many times the per-site limit an address is allowed.
const ADDRESS_FACTOR: u32 = 5;

#[derive(Clone)]
pub struct InvalidCodeLimits {
    by_site: Arc<RateLimiter>,
    by_address: Arc<RateLimiter>,
}

/// A request's site and address, once its site is known.
pub type Asker<'a> = Option<(&'a str, IpAddr)>;

impl InvalidCodeLimits {
    pub fn new(limit: u32, window_secs: u64, db: &Db) -> Self {
        InvalidCodeLimits {
            by_site: Arc::new(RateLimiter::new("invalid_code", limit, window_secs, db)),
            by_address: Arc::new(RateLimiter::new(
                "invalid_code_address",
                limit.saturating_mul(ADDRESS_FACTOR),
                window_secs,
                db,
            )),
        }
    }

    /// Seconds to wait for each asker, if it used up its window (site or address).
    pub async fn blocked_each(
        &self,
        conn: &mut crate::db::Conn,
        askers: &[Asker<'_>],
        now: Timestamp,
    ) -> Result<Vec<Option<u64>>> {
        let site_keys: Vec<Vec<String>> = askers
            .iter()
            .map(|a| a.iter().map(|(site, _)| site_key(site)).collect())
            .collect();
        let address_keys: Vec<Vec<String>> = askers
            .iter()
            .map(|a| a.iter().map(|(_, ip)| address_key(*ip)).collect())
            .collect();
        RateLimiter::blocked_each_of(
            conn,
            &[
                (&self.by_site, &site_keys),
                (&self.by_address, &address_keys),
            ],
            now,
        )
        .await
    }

    /// [`InvalidCodeLimits::blocked_each`] for one asker.
    pub async fn blocked(
        &self,
        conn: &mut crate::db::Conn,
        site_id: &str,
        ip: IpAddr,
        now: Timestamp,
    ) -> Result<Option<u64>> {
        let mut blocked = self.blocked_each(conn, &[Some((site_id, ip))], now).await?;
        Ok(blocked.pop().flatten())
    }

    /// Counts one invalid code of this site, from this address.
    pub async fn record(&self, site_id: &str, ip: IpAddr, now: Timestamp) -> Result<()> {
        self.by_site.record(&[site_key(site_id)], now).await?;
        self.by_address.record(&[address_key(ip)], now).await?;
        Ok(())
    }
}

fn site_key(site_id: &str) -> String {
    format!("site:{site_id}")
}

fn address_key(ip: IpAddr) -> String {
    format!("ip:{ip}")
}
