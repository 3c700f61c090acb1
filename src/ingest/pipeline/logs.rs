//! Log helpers: uri_parts, community_id, network_direction, registered_domain.
//! (modules/ingest-common UriPartsProcessor, CommunityIdProcessor, NetworkDirectionProcessor,
//! RegisteredDomainProcessor; docs: uri-parts-processor.html, community-id-processor.html,
//! network-direction-processor.html, registered-domain-processor.html)

use super::config::Config;
use super::doc::{IngestDoc, java_string};
use super::{Env, Flow, Processor};
use crate::error::{EsError, EsResult};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use sha1::Digest;
use std::net::IpAddr;

pub fn build(kind: &str, c: &mut Config) -> EsResult<Option<Box<dyn Processor>>> {
    Ok(Some(match kind {
        "uri_parts" => Box::new(UriParts {
            field: c.str("field")?,
            target: c.str_or("target_field", "url")?,
            keep_original: c.bool_or("keep_original", true)?,
            remove_if_successful: c.bool_or("remove_if_successful", false)?,
            ignore_missing: c.bool_or("ignore_missing", false)?,
        }),
        "community_id" => {
            let seed = c.opt_int("seed")?.unwrap_or(0);
            if !(0..=65535).contains(&seed) {
                return Err(c.err("seed", "must be a value between 0 and 65535".into()));
            }
            Box::new(CommunityId {
                source_ip: c.str_or("source_ip", "source.ip")?,
                source_port: c.str_or("source_port", "source.port")?,
                destination_ip: c.str_or("destination_ip", "destination.ip")?,
                destination_port: c.str_or("destination_port", "destination.port")?,
                iana_number: c.str_or("iana_number", "network.iana_number")?,
                transport: c.str_or("transport", "network.transport")?,
                target: c.str_or("target_field", "network.community_id")?,
                seed: seed as u16,
                ignore_missing: c.bool_or("ignore_missing", true)?,
            })
        }
        "network_direction" => {
            let networks = c.opt_list("internal_networks")?;
            let networks_field = c.opt_str("internal_networks_field")?;
            if networks.is_some() == networks_field.is_some() {
                return Err(c.err(
                    "internal_networks",
                    "and [internal_networks_field] cannot both be used in the same processor, and one of them is required".into(),
                ));
            }
            if let Some(n) = &networks {
                for x in n {
                    if Network::parse(x).is_none() {
                        return Err(c.err("internal_networks", format!("invalid network [{x}]")));
                    }
                }
            }
            Box::new(NetworkDirection {
                source_ip: c.str_or("source_ip", "source.ip")?,
                destination_ip: c.str_or("destination_ip", "destination.ip")?,
                target: c.str_or("target_field", "network.direction")?,
                networks,
                networks_field,
                ignore_missing: c.bool_or("ignore_missing", true)?,
            })
        }
        "registered_domain" => Box::new(RegisteredDomain {
            field: c.str("field")?,
            target: c.str_or("target_field", "")?,
            ignore_missing: c.bool_or("ignore_missing", false)?,
        }),
        _ => return Ok(None),
    }))
}

struct UriParts {
    field: String,
    target: String,
    keep_original: bool,
    remove_if_successful: bool,
    ignore_missing: bool,
}

/// The parts of a URL as UriPartsProcessor names them (ECS `url.*`).
pub fn uri_parts(s: &str) -> Result<Map<String, Value>, String> {
    let u = url::Url::parse(s).map_err(|e| e.to_string())?;
    let mut m = Map::new();
    let domain = u.host_str().unwrap_or_default();
    if !domain.is_empty() {
        m.insert(
            "domain".into(),
            json!(domain.trim_start_matches('[').trim_end_matches(']')),
        );
    }
    if let Some(f) = u.fragment() {
        m.insert("fragment".into(), json!(f));
    }
    let path = u.path();
    if let Some(dot) = path.rfind('.')
        && dot > path.rfind('/').unwrap_or(0)
    {
        m.insert("extension".into(), json!(&path[dot + 1..]));
    }
    if !u.password().unwrap_or_default().is_empty() {
        m.insert("password".into(), json!(u.password()));
    }
    m.insert("path".into(), json!(path));
    // java.net.URI keeps a port written explicitly, even the scheme's default (the url crate
    // drops it; it is looked for in the text).
    let port = u.port().or_else(|| {
        let d = u.port_or_known_default()?;
        s.contains(&format!("{domain}:{d}")).then_some(d)
    });
    if let Some(p) = port {
        m.insert("port".into(), json!(p));
    }
    if let Some(q) = u.query() {
        m.insert("query".into(), json!(q));
    }
    m.insert("scheme".into(), json!(u.scheme()));
    if !u.username().is_empty() {
        let ui = match u.password() {
            Some(p) => format!("{}:{p}", u.username()),
            None => u.username().to_string(),
        };
        m.insert("user_info".into(), json!(ui));
        m.insert("username".into(), json!(u.username()));
    }
    Ok(m)
}

impl Processor for UriParts {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let v = match doc.get(&self.field) {
            Ok(Value::Null) | Err(_) if self.ignore_missing => return Ok(Flow::Continue),
            Ok(v) => v.clone(),
            Err(e) => return Err(e),
        };
        let s = java_string(&v);
        let mut parts =
            uri_parts(&s).map_err(|e| {
                EsError::illegal_argument(format!("unable to parse URI [{s}]"))
                    .caused_by(EsError::new(400, "u_r_i_syntax_exception", e))
            })?;
        if self.keep_original {
            parts.insert("original".into(), json!(s));
        }
        if self.remove_if_successful && self.field != self.target {
            doc.remove(&self.field)?;
        }
        doc.set(&self.target, Value::Object(parts))?;
        Ok(Flow::Continue)
    }
}

struct CommunityId {
    source_ip: String,
    source_port: String,
    destination_ip: String,
    destination_port: String,
    iana_number: String,
    transport: String,
    target: String,
    seed: u16,
    ignore_missing: bool,
}

fn transport_number(t: &str) -> Option<u8> {
    Some(match t.to_ascii_lowercase().as_str() {
        "icmp" => 1,
        "igmp" => 2,
        "tcp" => 6,
        "udp" => 17,
        "gre" => 47,
        "ipv6-icmp" | "icmpv6" => 58,
        "eigrp" => 88,
        "ospf" => 89,
        "pim" => 103,
        "sctp" => 132,
        other => other.parse().ok()?,
    })
}

/// Community ID v1 (https://github.com/corelight/community-id-spec): SHA-1 over seed, the ordered
/// address pair, protocol, a zero pad byte and the ports, base64, prefixed `1:`.
pub fn community_id(
    seed: u16,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    sport: u16,
    dport: u16,
) -> String {
    let bytes = |ip: IpAddr| match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    let (a, b) = ((bytes(src), sport), (bytes(dst), dport));
    let ((ip1, p1), (ip2, p2)) = if a <= b { (a, b) } else { (b, a) };
    let mut h = sha1::Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(&ip1);
    h.update(&ip2);
    h.update([proto, 0]);
    if matches!(proto, 6 | 17 | 132) {
        h.update(p1.to_be_bytes());
        h.update(p2.to_be_bytes());
    }
    format!(
        "1:{}",
        base64::engine::general_purpose::STANDARD.encode(h.finalize())
    )
}

impl Processor for CommunityId {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let get = |f: &str| doc.find(f).cloned();
        let (Some(sip), Some(dip)) = (get(&self.source_ip), get(&self.destination_ip)) else {
            if self.ignore_missing {
                return Ok(Flow::Continue);
            }
            return Err(EsError::illegal_argument("ip address cannot be null"));
        };
        let ip = |v: &Value| {
            java_string(v).parse::<IpAddr>().map_err(|_| {
                EsError::illegal_argument(format!(
                    "'{}' is not an IP string literal.",
                    java_string(v)
                ))
            })
        };
        let (sip, dip) = (ip(&sip)?, ip(&dip)?);
        let proto = match get(&self.iana_number) {
            Some(n) => java_string(&n).parse::<u8>().map_err(|_| {
                EsError::illegal_argument(format!("invalid IANA number [{}]", java_string(&n)))
            })?,
            None => {
                let t = get(&self.transport).ok_or_else(|| {
                    EsError::illegal_argument("transport protocol cannot be null")
                })?;
                transport_number(&java_string(&t)).ok_or_else(|| {
                    EsError::illegal_argument(format!(
                        "could not convert string [{}] to transport protocol",
                        java_string(&t)
                    ))
                })?
            }
        };
        if matches!(proto, 1 | 58) {
            return Err(EsError::unsupported("community_id for ICMP flows"));
        }
        let port = |f: &str| -> EsResult<u16> {
            let v = get(f).ok_or_else(|| EsError::illegal_argument("port cannot be null"))?;
            java_string(&v)
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| {
                    EsError::illegal_argument(format!("invalid port [{}]", java_string(&v)))
                })
        };
        let (sp, dp) = if matches!(proto, 6 | 17 | 132) {
            (port(&self.source_port)?, port(&self.destination_port)?)
        } else {
            (0, 0)
        };
        let id = community_id(self.seed, sip, dip, proto, sp, dp);
        doc.set(&self.target, Value::String(id))?;
        Ok(Flow::Continue)
    }
}

/// An internal network of network_direction: a CIDR block, one address, or a named class.
enum Network {
    Cidr(IpAddr, u8),
    Named(String),
}

impl Network {
    fn parse(s: &str) -> Option<Network> {
        const NAMED: [&str; 11] = [
            "loopback",
            "unicast",
            "global_unicast",
            "multicast",
            "interface_local_multicast",
            "link_local_unicast",
            "link_local_multicast",
            "private",
            "public",
            "unspecified",
            "site_local_multicast",
        ];
        if NAMED.contains(&s) {
            return Some(Network::Named(s.into()));
        }
        let (ip, bits) = match s.split_once('/') {
            Some((ip, b)) => (ip.parse::<IpAddr>().ok()?, b.parse::<u8>().ok()?),
            None => {
                let ip = s.parse::<IpAddr>().ok()?;
                (ip, if ip.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        (bits <= max).then_some(Network::Cidr(ip, bits))
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match self {
            Network::Cidr(net, bits) => match (net, ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) => {
                    let mask = if *bits == 0 {
                        0
                    } else {
                        u32::MAX << (32 - bits)
                    };
                    u32::from(*n) & mask == u32::from(a) & mask
                }
                (IpAddr::V6(n), IpAddr::V6(a)) => {
                    let mask = if *bits == 0 {
                        0
                    } else {
                        u128::MAX << (128 - bits)
                    };
                    u128::from(*n) & mask == u128::from(a) & mask
                }
                _ => false,
            },
            Network::Named(n) => named(n, ip),
        }
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_private(),
        IpAddr::V6(a) => (a.segments()[0] & 0xfe00) == 0xfc00,
    }
}

fn named(n: &str, ip: IpAddr) -> bool {
    let multicast = ip.is_multicast();
    match n {
        "loopback" => ip.is_loopback(),
        "unicast" | "global_unicast" => {
            !multicast && !ip.is_unspecified() && !ip.is_loopback() && !link_local(ip)
        }
        "multicast" => multicast,
        "link_local_unicast" => link_local(ip),
        "link_local_multicast" => match ip {
            IpAddr::V4(a) => a.octets()[0] == 224 && a.octets()[1] == 0 && a.octets()[2] == 0,
            IpAddr::V6(a) => (a.segments()[0] & 0xff0f) == 0xff02,
        },
        "interface_local_multicast" => match ip {
            IpAddr::V4(_) => false,
            IpAddr::V6(a) => (a.segments()[0] & 0xff0f) == 0xff01,
        },
        "site_local_multicast" => match ip {
            IpAddr::V4(a) => a.octets()[0] == 239 && a.octets()[1] == 255,
            IpAddr::V6(a) => (a.segments()[0] & 0xff0f) == 0xff05,
        },
        "private" => is_private(ip),
        "public" => {
            !is_private(ip)
                && !ip.is_loopback()
                && !ip.is_unspecified()
                && !link_local(ip)
                && !multicast
                && !matches!(ip, IpAddr::V4(a) if a.is_broadcast())
        }
        "unspecified" => ip.is_unspecified(),
        _ => false,
    }
}

fn link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
    }
}

struct NetworkDirection {
    source_ip: String,
    destination_ip: String,
    target: String,
    networks: Option<Vec<String>>,
    networks_field: Option<String>,
    ignore_missing: bool,
}

impl Processor for NetworkDirection {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let nets: Vec<String> = match (&self.networks, &self.networks_field) {
            (Some(n), _) => n.clone(),
            (None, Some(f)) => match doc.find(f) {
                Some(Value::Array(a)) => a.iter().map(java_string).collect(),
                Some(v) => vec![java_string(v)],
                None if self.ignore_missing => return Ok(Flow::Continue),
                None => {
                    return Err(EsError::illegal_argument(format!(
                        "field [{f}] not present as part of path [{f}]"
                    )));
                }
            },
            (None, None) => vec![],
        };
        let nets: Vec<Network> = nets.iter().filter_map(|n| Network::parse(n)).collect();
        let ip = |f: &str| {
            doc.find(f)
                .and_then(|v| java_string(v).parse::<IpAddr>().ok())
        };
        let (Some(s), Some(d)) = (ip(&self.source_ip), ip(&self.destination_ip)) else {
            if self.ignore_missing {
                return Ok(Flow::Continue);
            }
            return Err(EsError::illegal_argument(
                "unable to calculate network direction from document",
            ));
        };
        let internal = |ip: IpAddr| nets.iter().any(|n| n.contains(ip));
        let dir = match (internal(s), internal(d)) {
            (true, true) => "internal",
            (true, false) => "outbound",
            (false, true) => "inbound",
            (false, false) => "external",
        };
        doc.set(&self.target, json!(dir))?;
        Ok(Flow::Continue)
    }
}

struct RegisteredDomain {
    field: String,
    target: String,
    ignore_missing: bool,
}

/// The parts RegisteredDomainProcessor writes, from the public suffix list (`psl` crate).
pub fn registered_domain(fqdn: &str) -> Option<Map<String, Value>> {
    let host = fqdn.trim().trim_end_matches('.').to_ascii_lowercase();
    let suffix = psl::suffix(host.as_bytes())?;
    let suffix = std::str::from_utf8(suffix.as_bytes()).ok()?.to_string();
    let mut m = Map::new();
    m.insert("domain".into(), json!(fqdn));
    if let Some(d) = psl::domain(host.as_bytes()) {
        let reg = std::str::from_utf8(d.as_bytes()).ok()?.to_string();
        let sub = host
            .strip_suffix(&reg)
            .map(|s| s.trim_end_matches('.'))
            .unwrap_or_default();
        m.insert("registered_domain".into(), json!(reg));
        if !sub.is_empty() {
            m.insert("subdomain".into(), json!(sub));
        }
    }
    m.insert("top_level_domain".into(), json!(suffix));
    Some(m)
}

impl Processor for RegisteredDomain {
    fn run(&self, doc: &mut IngestDoc, _env: &Env) -> EsResult<Flow> {
        let v = match doc.get(&self.field) {
            Ok(Value::Null) | Err(_) if self.ignore_missing => return Ok(Flow::Continue),
            Ok(v) => v.clone(),
            Err(e) => return Err(e),
        };
        let s = java_string(&v);
        let parts = registered_domain(&s).ok_or_else(|| {
            EsError::illegal_argument("unable to set domain information for document")
        })?;
        for (k, v) in parts {
            let path = if self.target.is_empty() {
                k
            } else {
                format!("{}.{k}", self.target)
            };
            doc.set(&path, v)?;
        }
        Ok(Flow::Continue)
    }
}
