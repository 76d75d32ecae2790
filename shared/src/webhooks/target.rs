//! Where a webhook goes: an HTTPS URL (plain HTTP only with `GROWSTACK_ENV=local`) whose name
//! resolves to public addresses only. Checked when the endpoint is saved and again at every
//! delivery, which then connects to an address it checked: a name pointed at a private
//! address between the check and the connection (DNS rebinding) cannot redirect it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Request, Uri};
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::error::{Error, Result};

/// Longest URL taken.
const MAX_URL: usize = 2048;

/// A checked URL.
#[derive(Clone, Debug)]
pub struct Target {
    pub uri: Uri,
    https: bool,
    host: String,
    port: u16,
}

impl Target {
    /// The URL an admin gives: absolute, `https` (or `http` when local), a host, no user or
    /// password in it.
    pub fn parse(raw: &str, local: bool) -> Result<Self> {
        let invalid = |why: &str| Error::invalid_field("url", format!("url {why}"));
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > MAX_URL {
            return Err(invalid("must be 1 to 2048 characters"));
        }
        let uri: Uri = raw.parse().map_err(|_| invalid("is not a URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if local => false,
            Some("http") => return Err(invalid("must use https")),
            _ => return Err(invalid("must be an https URL")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("has no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("must not carry a user or password"));
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        if host.is_empty() {
            return Err(invalid("has no host"));
        }
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Target { uri, https, host, port })
    }

    /// The addresses its name resolves to, refused unless every one is public (when not
    /// local): a name with one private address among public ones is refused too.
    pub async fn resolve(&self, local: bool) -> std::result::Result<Vec<SocketAddr>, String> {
        let addrs: Vec<SocketAddr> = match self.host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, self.port)],
            Err(_) => {
                tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((self.host.as_str(), self.port)))
                    .await
                    .map_err(|_| format!("{} did not resolve within 5 s", self.host))?
                    .map_err(|e| format!("{} does not resolve: {e}", self.host))?
                    .collect()
            }
        };
        if addrs.is_empty() {
            return Err(format!("{} resolves to no address", self.host));
        }
        if !local {
            if let Some(private) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(format!("{} resolves to {}, which is not a public address", self.host, private.ip()));
            }
        }
        Ok(addrs)
    }

    /// POSTs `body` with `headers` to one of `addrs` (those [`Target::resolve`] checked),
    /// within `timeout` for the whole exchange; the answer's status.
    pub async fn post(
        &self,
        addrs: &[SocketAddr],
        headers: &[(&str, String)],
        body: Bytes,
        timeout: Duration,
    ) -> std::result::Result<u16, String> {
        tokio::time::timeout(timeout, self.exchange(addrs, headers, body))
            .await
            .map_err(|_| format!("no answer within {} s", timeout.as_secs()))?
    }

    async fn exchange(
        &self,
        addrs: &[SocketAddr],
        headers: &[(&str, String)],
        body: Bytes,
    ) -> std::result::Result<u16, String> {
        let mut last = String::from("no address");
        let mut tcp = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last = format!("connect {addr}: {e}"),
            }
        }
        let tcp = tcp.ok_or(last)?;
        let path = self.uri.path_and_query().map_or("/", |p| p.as_str());
        let host = match (self.https, self.port) {
            (true, 443) | (false, 80) => self.host.clone(),
            _ => format!("{}:{}", self.host, self.port),
        };
        let mut request = Request::post(path).header("host", host);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request.body(Full::new(body)).map_err(|e| format!("request: {e}"))?;
        if self.https {
            let config = crate::tls::client_config(None).map_err(|e| format!("{e:#}"))?;
            let name = ServerName::try_from(self.host.clone()).map_err(|e| format!("server name: {e}"))?;
            let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            send(tls, request).await
        } else {
            send(tcp, request).await
        }
    }
}

async fn send<S>(io: S, request: Request<Full<Bytes>>) -> std::result::Result<u16, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|e| format!("HTTP: {e}"))?;
    let driver = tokio::spawn(connection);
    let answer = sender.send_request(request).await.map_err(|e| format!("HTTP: {e}"));
    driver.abort();
    Ok(answer?.status().as_u16())
}

/// Whether `ip` is an address on the public internet: not private, loopback, link-local
/// (the cloud's metadata service), shared (CGNAT), documentation, benchmarking, multicast,
/// reserved or unspecified, and for IPv6 not unique-local, link-local or an IPv4 address in
/// disguise that is one of those.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_v4(v4);
            }
            let s = v6.segments();
            let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0];
            if nat64 {
                return public_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
        }
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this" network
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local, the metadata service
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224) // multicast, reserved, broadcast
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_are_https_with_a_host_and_no_credentials() {
        assert!(Target::parse("https://hooks.example.com/growstack?x=1", false).is_ok());
        for bad in
            ["http://hooks.example.com/", "ftp://x/", "hooks.example.com", "https://user:pw@x.com/", "", "https:///x"]
        {
            assert!(Target::parse(bad, false).is_err(), "{bad}");
        }
        assert!(Target::parse("http://127.0.0.1:8080/hook", true).is_ok(), "local development");
        let t = Target::parse("https://[::1]:8443/h", false).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8443));
    }

    #[tokio::test]
    async fn names_and_literals_that_reach_inside_are_refused() {
        for url in [
            "https://127.0.0.1/",
            "https://localhost/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/",
            "https://10.0.0.5:8443/",
        ] {
            let target = Target::parse(url, false).unwrap();
            let refused = target.resolve(false).await.unwrap_err();
            assert!(refused.contains("not a public address"), "{url}: {refused}");
            assert!(target.resolve(true).await.is_ok(), "{url}: allowed when local");
        }
    }
}
