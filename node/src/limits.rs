//! Per-client limits for the endpoints that need no token: one anonymous
//! client cannot take every worker.

/// Requests one client may have in flight on an endpoint that needs no
/// token (verification): one client cannot take every worker.
pub const PER_CLIENT_IN_FLIGHT: usize = 2;

/// In-flight anonymous requests by client address.
#[derive(Default)]
pub struct ClientLimits {
    in_flight: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
}

/// A client's place among [`ClientLimits`], given back on drop.
pub struct ClientSlot<'a> {
    limits: &'a ClientLimits,
    client: std::net::IpAddr,
}

impl ClientLimits {
    /// A slot for `client`, or an error when it has [`PER_CLIENT_IN_FLIGHT`]
    /// requests in flight already.
    pub fn enter(&self, client: std::net::IpAddr) -> Result<ClientSlot<'_>, TooManyInFlight> {
        let mut map = self.in_flight.lock().expect("client limits lock");
        let n = map.entry(client).or_default();
        if *n >= PER_CLIENT_IN_FLIGHT {
            return Err(TooManyInFlight);
        }
        *n += 1;
        Ok(ClientSlot {
            limits: self,
            client,
        })
    }
}

impl Drop for ClientSlot<'_> {
    fn drop(&mut self) {
        let mut map = self.limits.in_flight.lock().expect("client limits lock");
        if let Some(n) = map.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.client);
            }
        }
    }
}

/// The client has [`PER_CLIENT_IN_FLIGHT`] requests in flight already.
#[derive(Debug, thiserror::Error)]
#[error("at most {PER_CLIENT_IN_FLIGHT} verifications in flight per client")]
pub struct TooManyInFlight;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_share_and_no_more_until_one_ends() {
        let limits = ClientLimits::default();
        let (a, b): (std::net::IpAddr, std::net::IpAddr) =
            ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        let first = limits.enter(a).unwrap();
        let _second = limits.enter(a).unwrap();
        assert!(limits.enter(a).is_err());
        let _other = limits.enter(b).expect("another client is not held back");
        drop(first);
        let _again = limits.enter(a).expect("a slot given back is free");
    }
}
