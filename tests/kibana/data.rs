//! Generated documents shaped like Kibana's sample data sets (web logs, flights, ecommerce): the
//! same index names, field names and mapping types as Kibana's `field_mappings` modules, with small
//! deterministic values the tests can compute expectations from. Times cover one day before and one
//! day after the fixtures' time range, so the fixtures' time filters matter.

use serde_json::{Value, json};

/// The fixtures' time range: 2026-11-16T00:00:00.000Z ..= 2026-11-22T23:59:59.999Z.
pub const FROM_MS: i64 = 1_794_787_200_000;
pub const TO_MS: i64 = 1_795_391_999_999;
const DAY_MS: i64 = 86_400_000;

pub const LOGS: &str = "kibana_sample_data_logs";
pub const FLIGHTS: &str = "kibana_sample_data_flights";
pub const ECOMMERCE: &str = "kibana_sample_data_ecommerce";

pub const EXTENSIONS: [&str; 5] = ["css", "deb", "gz", "zip", ""];
pub const HOSTS: [&str; 4] = [
    "artifacts.example.org",
    "www.example.org",
    "cdn.example.org",
    "beats.example.org",
];
pub const OSES: [&str; 5] = ["win 8", "win xp", "osx", "ios", "win 7"];
pub const RESPONSES: [i64; 5] = [200, 200, 200, 404, 503];
pub const COUNTRIES: [&str; 6] = ["CN", "IN", "US", "ID", "BR", "DE"];
pub const AGENTS: [&str; 3] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:6.0a1) Gecko/20110421 Firefox/6.0a1",
    "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1; .NET CLR 1.1.4322)",
    "Mozilla/5.0 (X11; Linux i686) AppleWebKit/534.24 (KHTML, like Gecko) Chrome/11.0.696.50 Safari/534.24",
];
pub const CARRIERS: [&str; 4] = ["Kibana Airlines", "JetBeats", "ES-Air", "Logstash Airways"];
pub const WEATHER: [&str; 5] = ["Sunny", "Rain", "Clear", "Cloudy", "Thunder & Lightning"];
pub const CATEGORIES: [&str; 4] = [
    "Men's Clothing",
    "Women's Clothing",
    "Women's Shoes",
    "Men's Accessories",
];
pub const PRODUCTS: [&str; 6] = [
    "Basic T-shirt",
    "Sweatshirt",
    "Ankle boots",
    "Jumper",
    "Winter jacket",
    "Watch",
];

pub fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn text_kw() -> Value {
    json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}})
}

/// A generated document with its `_id`.
pub struct Doc {
    pub id: String,
    pub src: Value,
}

/// Web logs: 810 docs, one every 16 minutes from one day before the range.
pub fn logs() -> (Value, Vec<Doc>) {
    let mapping = json!({"mappings": {"properties": {
        "@timestamp": {"type": "alias", "path": "timestamp"},
        "timestamp": {"type": "date"},
        "utc_time": {"type": "date"},
        "agent": text_kw(), "extension": text_kw(), "host": text_kw(), "message": text_kw(),
        "request": text_kw(), "response": text_kw(), "tags": text_kw(), "url": text_kw(),
        "bytes": {"type": "long"}, "phpmemory": {"type": "long"}, "memory": {"type": "double"},
        "clientip": {"type": "ip"}, "ip": {"type": "ip"}, "referer": {"type": "keyword"},
        "machine": {"properties": {"os": text_kw(), "ram": {"type": "long"}}},
        "geo": {"properties": {"src": {"type": "keyword"}, "dest": {"type": "keyword"},
                               "srcdest": {"type": "keyword"}, "coordinates": {"type": "geo_point"}}},
        "event": {"properties": {"dataset": {"type": "keyword"}}}
    }}});
    let start = FROM_MS - DAY_MS + 7 * 60_000 + 123;
    let docs = (0..810i64)
        .map(|i| {
            let ts = start + i * 16 * 60_000;
            let ext = EXTENSIONS[(i * 7 % 5) as usize];
            let clientip = format!("10.{}.{}.{}", i % 7, i % 5, i % 11);
            let response = RESPONSES[(i * 3 % 5) as usize];
            let agent = AGENTS[(i % 3) as usize];
            let (src, dest) = (COUNTRIES[(i % 6) as usize], COUNTRIES[(i * 5 % 6) as usize]);
            let tags = if response >= 400 {
                json!(["error", "warning"])
            } else {
                json!(["success", "info"])
            };
            let mut d = json!({
                "timestamp": iso(ts), "utc_time": iso(ts),
                "agent": agent, "extension": ext, "host": HOSTS[(i * 3 % 4) as usize],
                "clientip": clientip, "ip": clientip, "response": response, "tags": tags,
                "machine": {"os": OSES[(i * 2 % 5) as usize], "ram": 1_073_741_824i64 * (1 + i % 8)},
                "geo": {"src": src, "dest": dest, "srcdest": format!("{src}:{dest}"),
                        "coordinates": {"lat": -60.0 + (i * 37 % 120) as f64 + 0.25,
                                        "lon": -170.0 + (i * 53 % 340) as f64 + 0.5}},
                "referer": format!("http://www.example.com/success/{}", i % 9),
                "url": format!("https://{}/downloads/{ext}/file_{}", HOSTS[(i * 3 % 4) as usize], i % 13),
                "request": format!("/downloads/{ext}/file_{}", i % 13),
                "phpmemory": null, "memory": null,
                "event": {"dataset": "sample_web_logs"}
            });
            if i % 13 != 0 {
                d["bytes"] = json!((i * 7919) % 20000);
            }
            let bytes = d.get("bytes").map(|b| b.to_string()).unwrap_or("-".into());
            d["message"] = json!(format!(
                "{clientip} - - [{}] \"GET /{ext} HTTP/1.1\" {response} {bytes} \"-\" \"{agent}\"",
                iso(ts)
            ));
            Doc {
                id: format!("log-{i}"),
                src: d,
            }
        })
        .collect();
    (mapping, docs)
}

/// Flights: 432 docs, one every 30 minutes.
pub fn flights() -> (Value, Vec<Doc>) {
    let mapping = json!({"mappings": {"properties": {
        "timestamp": {"type": "date"}, "dayOfWeek": {"type": "integer"},
        "Carrier": {"type": "keyword"}, "FlightNum": {"type": "keyword"},
        "OriginCountry": {"type": "keyword"}, "DestCountry": {"type": "keyword"},
        "OriginLocation": {"type": "geo_point"}, "DestLocation": {"type": "geo_point"},
        "AvgTicketPrice": {"type": "float"}, "DestWeather": {"type": "keyword"},
        "OriginWeather": {"type": "keyword"}, "Cancelled": {"type": "boolean"},
        "FlightDelay": {"type": "boolean"}, "FlightDelayMin": {"type": "integer"},
        "FlightDelayType": {"type": "keyword"}, "DistanceKilometers": {"type": "float"}
    }}});
    let start = FROM_MS - DAY_MS + 11 * 60_000;
    let docs = (0..432i64)
        .map(|i| {
            let ts = start + i * 30 * 60_000;
            let delay = if i % 3 == 0 { 0 } else { (i * 37) % 360 };
            let d = json!({
                "timestamp": iso(ts), "dayOfWeek": (i / 48) % 7,
                "Carrier": CARRIERS[(i % 4) as usize], "FlightNum": format!("F{:04}", i),
                "OriginCountry": COUNTRIES[(i % 6) as usize], "DestCountry": COUNTRIES[(i * 5 % 6) as usize],
                "OriginLocation": {"lat": 10.5, "lon": 20.25},
                "DestLocation": {"lat": -30.0 + (i % 60) as f64, "lon": 100.0 - (i % 90) as f64},
                // Multiples of 0.25: exact in float, so averages can be compared exactly.
                "AvgTicketPrice": 100.0 + ((i * 7919) % 4000) as f64 * 0.25,
                "DestWeather": WEATHER[(i * 3 % 5) as usize], "OriginWeather": WEATHER[(i % 5) as usize],
                "Cancelled": i % 11 == 0, "FlightDelay": delay > 0, "FlightDelayMin": delay,
                "FlightDelayType": if delay > 0 { "Carrier Delay" } else { "No Delay" },
                "DistanceKilometers": 500.0 + (i % 40) as f64 * 100.0
            });
            Doc {
                id: format!("flight-{i}"),
                src: d,
            }
        })
        .collect();
    (mapping, docs)
}

/// Ecommerce: 216 orders, one every hour; `products` is an array of plain objects.
pub fn ecommerce() -> (Value, Vec<Doc>) {
    let mapping = json!({"mappings": {"properties": {
        "order_date": {"type": "date"}, "order_id": {"type": "keyword"},
        "category": text_kw(), "customer_gender": {"type": "keyword"},
        "customer_id": {"type": "keyword"}, "customer_full_name": text_kw(),
        "taxful_total_price": {"type": "half_float"}, "total_quantity": {"type": "integer"},
        "currency": {"type": "keyword"},
        "products": {"properties": {"product_name": text_kw(), "price": {"type": "half_float"},
                                    "quantity": {"type": "integer"}, "category": text_kw()}},
        "geoip": {"properties": {"location": {"type": "geo_point"}, "country_iso_code": {"type": "keyword"}}}
    }}});
    let start = FROM_MS - DAY_MS + 29 * 60_000;
    let docs = (0..216i64)
        .map(|i| {
            let ts = start + i * 60 * 60_000;
            let n = 1 + (i % 3) as usize;
            let products: Vec<Value> = (0..n)
                .map(|k| {
                    let p = (i as usize + k * 2) % PRODUCTS.len();
                    json!({"product_name": PRODUCTS[p], "price": 10.0 + p as f64 * 5.5,
                           "quantity": 1, "category": CATEGORIES[p % 4]})
                })
                .collect();
            let total: f64 = products
                .iter()
                .map(|p| p["price"].as_f64().unwrap())
                .sum();
            let mut cats: Vec<&str> = products
                .iter()
                .map(|p| p["category"].as_str().unwrap())
                .collect();
            cats.dedup();
            let category = if cats.len() == 1 {
                json!(cats[0])
            } else {
                json!(cats)
            };
            let d = json!({
                "order_date": iso(ts), "order_id": format!("{}", 500000 + i),
                "category": category, "customer_gender": if i % 3 == 0 { "MALE" } else { "FEMALE" },
                "customer_id": format!("c{}", i % 17), "customer_full_name": format!("Customer {}", i % 17),
                "taxful_total_price": total, "total_quantity": n, "currency": "EUR",
                "products": products,
                "geoip": {"location": {"lat": 40.5, "lon": -3.75}, "country_iso_code": "ES"}
            });
            Doc {
                id: format!("order-{i}"),
                src: d,
            }
        })
        .collect();
    (mapping, docs)
}

/// Epoch millis of a generated document's date field.
pub fn ms(d: &Value, field: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(d[field].as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

/// True when the document's time field is inside the fixtures' range.
pub fn in_range(d: &Value, field: &str) -> bool {
    let t = ms(d, field);
    (FROM_MS..=TO_MS).contains(&t)
}

/// The values of a dotted field path (objects and arrays of objects followed), as a keyword
/// field would index them (numbers and booleans as their text).
pub fn values(d: &Value, path: &str) -> Vec<Value> {
    fn walk(v: &Value, parts: &[&str], out: &mut Vec<Value>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| walk(x, parts, out)),
            Value::Null => {}
            _ if parts.is_empty() => out.push(v.clone()),
            Value::Object(o) => {
                if let Some(x) = o.get(parts[0]) {
                    walk(x, &parts[1..], out)
                }
            }
            _ => {}
        }
    }
    let parts: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    walk(d, &parts, &mut out);
    out
}

/// Keyword values of a field (`x.keyword` reads the `x` source values), as strings.
pub fn keywords(d: &Value, field: &str) -> Vec<String> {
    let path = field.strip_suffix(".keyword").unwrap_or(field);
    let mut v: Vec<String> = values(d, path)
        .into_iter()
        .map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// A single numeric value of a field, if any.
pub fn num(d: &Value, field: &str) -> Option<f64> {
    values(d, field).first().and_then(Value::as_f64)
}
