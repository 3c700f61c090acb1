//! Randomised robustness tests of every parser of user input, on stable Rust (cargo-fuzz needs a
//! nightly compiler): inputs generated from the seed corpus in `tests/fuzz/seeds/` (mutated,
//! spliced, grown to deep nesting) and from each grammar's own characters. A target fails on a
//! panic (the inputs that panicked are listed and written to `target/fuzz-crashes/`) and aborts on
//! a stack overflow; errors are fine, they are the answers to bad input.
//!
//! Each target runs on a thread with tokio's default worker stack (2 MiB), where the daemon runs
//! them. By default each target tries `ELASTICHOUSE_FUZZ_ITERS` inputs (300: a smoke run for CI);
//! `ELASTICHOUSE_FUZZ_SECS=1200` runs each target for that long instead. `ELASTICHOUSE_FUZZ_SEED`
//! picks the random sequence (printed, so that a failure can be replayed).

mod common;

use elastichouse::catalog::IndexMeta;
use elastichouse::dsl::query_string::{lucene, simple};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn seeds(name: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/seeds")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// How long a target runs: a number of inputs, or a duration.
enum Budget {
    Iters(u64),
    Time(Duration),
}

fn budget() -> Budget {
    if let Some(s) = std::env::var("ELASTICHOUSE_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return Budget::Time(Duration::from_secs(s));
    }
    Budget::Iters(
        std::env::var("ELASTICHOUSE_FUZZ_ITERS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(300),
    )
}

fn seed() -> u64 {
    std::env::var("ELASTICHOUSE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11)
}

/// Generates strings for one grammar: mutated seeds, spliced seeds, runs of the grammar's own
/// tokens, and deep nesting of its openers.
struct Gen {
    rng: StdRng,
    seeds: Vec<String>,
    tokens: &'static [&'static str],
    /// (open, close) pairs that nest in the grammar.
    nests: &'static [(&'static str, &'static str)],
}

impl Gen {
    fn token(&mut self) -> &'static str {
        self.tokens[self.rng.random_range(0..self.tokens.len())]
    }

    fn boundary(s: &str, at: usize) -> usize {
        let mut i = at.min(s.len());
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    }

    fn mutate(&mut self, mut s: String) -> String {
        for _ in 0..self.rng.random_range(1..5) {
            let at = Self::boundary(&s, self.rng.random_range(0..=s.len()));
            match self.rng.random_range(0..6) {
                0 => {
                    let t = self.token();
                    s.insert_str(at, t);
                }
                1 if !s.is_empty() => {
                    let end = Self::boundary(&s, at + self.rng.random_range(0..8));
                    s.replace_range(at..end.max(at), "");
                }
                2 if !s.is_empty() => {
                    let end = Self::boundary(&s, at + self.rng.random_range(1..16));
                    let piece = s[at..end.max(at)].to_string();
                    s.insert_str(at, &piece.repeat(self.rng.random_range(1..50)));
                }
                3 => {
                    let (o, c) = self.nests[self.rng.random_range(0..self.nests.len())];
                    let n = *[3, 30, 100, 1_000, 20_000]
                        .get(self.rng.random_range(0..5))
                        .expect("depth");
                    s = format!("{}{s}{}", o.repeat(n), c.repeat(n));
                }
                4 => {
                    let other = self.seeds[self.rng.random_range(0..self.seeds.len())].clone();
                    let cut = Self::boundary(&other, self.rng.random_range(0..=other.len()));
                    s.insert_str(at, &other[cut..]);
                }
                _ => {
                    let t = self.token();
                    let n = self.rng.random_range(1..2_000);
                    s.insert_str(at, &t.repeat(n));
                }
            }
        }
        s
    }

    fn next(&mut self) -> String {
        match self.rng.random_range(0..10) {
            0..=5 => {
                let s = self.seeds[self.rng.random_range(0..self.seeds.len())].clone();
                self.mutate(s)
            }
            6 | 7 => (0..self.rng.random_range(0..40))
                .map(|_| self.token())
                .collect(),
            _ => {
                let s: String = (0..self.rng.random_range(0..10))
                    .map(|_| self.token())
                    .collect();
                self.mutate(s)
            }
        }
    }
}

/// Runs `check` on generated inputs on a 2 MiB thread; panics with every input that panicked.
fn run(
    name: &'static str,
    mut generate: impl FnMut(&mut StdRng) -> String + Send + 'static,
    check: fn(&str),
) {
    let handle = std::thread::Builder::new()
        .name(format!("fuzz-{name}"))
        .stack_size(2 << 20)
        .spawn(move || {
            let seed = seed();
            let mut rng = StdRng::seed_from_u64(seed);
            let start = Instant::now();
            let budget = budget();
            let mut crashes: Vec<String> = Vec::new();
            let mut slowest: (Duration, String) = (Duration::ZERO, String::new());
            let mut n = 0u64;
            loop {
                match budget {
                    Budget::Iters(max) if n >= max => break,
                    Budget::Time(d) if start.elapsed() >= d => break,
                    _ => {}
                }
                let input = generate(&mut rng);
                let t = Instant::now();
                if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
                    crashes.push(input.clone());
                }
                if t.elapsed() > slowest.0 {
                    slowest = (t.elapsed(), input);
                }
                n += 1;
            }
            eprintln!(
                "fuzz {name}: {n} inputs in {:.1?} (seed {seed}), {} panicked; slowest {:.1?} for {} chars: {:?}",
                start.elapsed(),
                crashes.len(),
                slowest.0,
                slowest.1.len(),
                slowest.1.chars().take(120).collect::<String>()
            );
            crashes
        })
        .expect("thread");
    let crashes = handle.join().expect("the fuzz thread itself");
    if !crashes.is_empty() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes");
        std::fs::create_dir_all(&dir).ok();
        for (i, c) in crashes.iter().enumerate() {
            std::fs::write(dir.join(format!("{name}-{i}.txt")), c).ok();
        }
        let shown: Vec<String> = crashes
            .iter()
            .take(5)
            .map(|c| c.chars().take(300).collect())
            .collect();
        panic!("{name}: {} inputs panicked, e.g. {shown:#?}", crashes.len());
    }
}

fn string_gen(
    file: &str,
    tokens: &'static [&'static str],
    nests: &'static [(&'static str, &'static str)],
) -> impl FnMut(&mut StdRng) -> String + Send + 'static {
    let seeds = seeds(file);
    let mut g: Option<Gen> = None;
    move |rng: &mut StdRng| {
        let g = g.get_or_insert_with(|| Gen {
            rng: StdRng::seed_from_u64(rng.random()),
            seeds: seeds.clone(),
            tokens,
            nests,
        });
        g.next()
    }
}

// ---------------------------------------------------------------------------------------------
// The index the translation targets plan against (no engine needed: SQL is only rendered).

fn mapping() -> Value {
    json!({"properties": {
        "@timestamp": {"type": "date"},
        "message": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
        "host": {"properties": {"name": {"type": "keyword"}}},
        "url": {"properties": {"path": {"type": "keyword"}}},
        "status": {"type": "keyword"},
        "bytes": {"type": "long"},
        "ratio": {"type": "double"},
        "ip": {"type": "ip"},
        "tags": {"type": "keyword"},
        "c": {"type": "constant_keyword", "value": "k"},
        "items": {"type": "nested", "properties": {"name": {"type": "keyword"}, "n": {"type": "long"}}}
    }})
}

fn meta_with(mapping: &Value) -> IndexMeta {
    let mappings = elastichouse::schema::parse_mappings(mapping).expect("mapping");
    IndexMeta::planned("fuzz", "elastichouse", mappings)
}

thread_local! {
    static META: IndexMeta = meta_with(&mapping());
}

/// The whole search translation: parse the body, plan filter and score, render the SQL.
fn translate(body: &Value) {
    let params = elastichouse::es_api::Params::new();
    let Ok((req, _)) = elastichouse::es_api::search::parse_request(Some(body), &params, true)
    else {
        return;
    };
    META.with(|meta| {
        if let Ok((filter, score, stats, norms)) =
            elastichouse::plan::filter_and_score(meta, 1_717_000_000_000, &req.query, true)
        {
            let _ = filter.to_string();
            let _ = score.to_string();
            let _ = stats.map(|e| e.to_string());
            let _ = norms.map(|e| e.to_string());
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Targets

#[test]
fn fuzz_query_string() {
    const T: &[&str] = &[
        "a",
        "msg",
        "status:",
        "message:",
        "*",
        "?",
        "\\",
        "\"",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        " TO ",
        " AND ",
        " OR ",
        " NOT ",
        "&&",
        "||",
        "!",
        "+",
        "-",
        "~",
        "~2",
        "^",
        "^2",
        ":",
        "/",
        "/re/",
        ">",
        ">=",
        "<",
        "now-1d",
        " ",
        "é",
        "_exists_:",
        "*:",
        "1.5",
        "\n",
    ];
    const N: &[(&str, &str)] = &[("(", ")"), ("a:(", ")"), ("(a OR ", ")"), ("\"", "\"")];
    run("query_string", string_gen("query_string.txt", T, N), |s| {
        let _ = lucene::parse(s, lucene::Operator::Or);
        let _ = lucene::parse(s, lucene::Operator::And);
        translate(&json!({"query": {"query_string": {"query": s, "default_field": "message"}}}));
        translate(&json!({"query": {"query_string": {"query": s}}}));
    });
}

#[test]
fn fuzz_simple_query_string() {
    const T: &[&str] = &[
        "a", "b", " ", "+", "|", "-", "\"", "(", ")", "*", "~", "~1", "\\", "é", "\t",
    ];
    const N: &[(&str, &str)] = &[("(", ")"), ("(a | ", ")"), ("-(", ")")];
    run(
        "simple_query_string",
        string_gen("simple_query_string.txt", T, N),
        |s| {
            let _ = simple::parse(s, simple::ALL, lucene::Occur::Should);
            translate(
                &json!({"query": {"simple_query_string": {"query": s, "fields": ["message", "status"]}}}),
            );
        },
    );
}

#[test]
fn fuzz_regexp_and_wildcard() {
    const T: &[&str] = &[
        "a", ".", "*", "+", "?", "|", "&", "~", "#", "@", "(", ")", "[", "]", "^", "-", "{", "}",
        "{2,3}", "<1-100>", "\\", "\\d", "\"", "é", "0", "9",
    ];
    const N: &[(&str, &str)] = &[("(", ")"), ("~(", ")"), ("(a|", ")"), ("[", "]")];
    run("regexp", string_gen("regexp.txt", T, N), |s| {
        for flags in [0u32, 0xffff] {
            let _ = elastichouse::plan::term_level::translate_regexp(s, flags, false);
            let _ = elastichouse::plan::term_level::translate_regexp(s, flags, true);
        }
        let _ = elastichouse::plan::term_level::wildcard_to_like(s);
        translate(&json!({"query": {"regexp": {"host.name": {"value": s, "flags": "ALL"}}}}));
        translate(&json!({"query": {"wildcard": {"url.path": s}}}));
        translate(&json!({"query": {"wildcard": {"c": s}}}));
        translate(&json!({"query": {"prefix": {"status": s}}}));
    });
    const W: &[&str] = &["*", "?", "\\", "a", "b", "é"];
    run(
        "wildcard",
        string_gen("wildcard.txt", W, &[("*", "*")]),
        |s| {
            translate(
                &json!({"query": {"wildcard": {"c": {"value": s, "case_insensitive": true}}}}),
            );
        },
    );
}

#[test]
fn fuzz_painless() {
    const T: &[&str] = &[
        "emit(",
        ")",
        "(",
        "doc['bytes'].value",
        "doc['message.keyword'].value",
        "doc['@timestamp'].value",
        ".",
        "get",
        "getHour()",
        "toString()",
        "length()",
        "substring(0, 2)",
        "+",
        "-",
        "*",
        "/",
        "%",
        "==",
        "!=",
        "<",
        ">",
        "&&",
        "||",
        "!",
        "?",
        ":",
        ";",
        "{",
        "}",
        "if (",
        "else ",
        "return ",
        "1",
        "2.5",
        "'s'",
        "\"s\"",
        "params.x",
        "(long)",
        "def x = ",
        "x",
        "Math.max(",
        ",",
        " ",
        "[",
        "]",
        "é",
        "null",
        "true",
    ];
    const N: &[(&str, &str)] = &[
        ("(", ")"),
        ("emit(", ")"),
        ("{", "}"),
        ("if (true) { ", "}"),
    ];
    run("painless", string_gen("painless.txt", T, N), |s| {
        let _ = elastichouse::dsl::painless::parse(s);
        let def = json!({"type": "long", "script": {"source": s, "params": {"x": 2}}});
        if elastichouse::dsl::painless::parse_runtime_field("r", &def).is_ok() {
            META.with(|meta| {
                let mut m = meta.clone();
                m.mappings.runtime.insert("r".into(), def);
                if let Ok(Some(f)) = elastichouse::plan::runtime::resolve(&m, "r") {
                    let _ = format!("{f:?}");
                }
            });
        }
    });
}

#[test]
fn fuzz_date_math() {
    const T: &[&str] = &[
        "now",
        "||",
        "+",
        "-",
        "/",
        "1",
        "15",
        "y",
        "M",
        "w",
        "d",
        "h",
        "H",
        "m",
        "s",
        "2024-05-01",
        "T10:00:00Z",
        "T",
        ":",
        "Z",
        "+02:00",
        ".",
        "1714557600000",
        " ",
        "é",
    ];
    run(
        "date_math",
        string_gen("date_math.txt", T, &[("now", "/d")]),
        |s| {
            for fmt in [
                "strict_date_optional_time||epoch_millis",
                "yyyy-MM-dd HH:mm:ss",
                "epoch_second",
            ] {
                for tz in [None, Some("Europe/Paris"), Some("+01:00")] {
                    let _ = elastichouse::schema::dates::parse_date_math(
                        s,
                        fmt,
                        1_717_000_000_000,
                        true,
                        tz,
                    );
                    let _ = elastichouse::schema::dates::parse_date_math(
                        s,
                        fmt,
                        1_717_000_000_000,
                        false,
                        tz,
                    );
                }
            }
            translate(
                &json!({"query": {"range": {"@timestamp": {"gte": s, "lt": s, "time_zone": "+01:00"}}}}),
            );
        },
    );
}

/// Random JSON: a seed mutated at random places (values swapped for generated ones, objects
/// wrapped in bool queries, arrays grown), or a fresh random tree.
fn mutate_json(rng: &mut StdRng, v: &mut Value, depth: usize) {
    const KEYS: &[&str] = &[
        "query",
        "bool",
        "must",
        "filter",
        "should",
        "must_not",
        "term",
        "terms",
        "match",
        "range",
        "gte",
        "lt",
        "query_string",
        "simple_query_string",
        "regexp",
        "wildcard",
        "exists",
        "field",
        "nested",
        "path",
        "dis_max",
        "queries",
        "constant_score",
        "boosting",
        "aggs",
        "terms",
        "size",
        "from",
        "sort",
        "status",
        "message",
        "bytes",
        "@timestamp",
        "items.name",
        "minimum_should_match",
        "boost",
        "fields",
        "properties",
        "type",
        "format",
    ];
    let random_scalar = |rng: &mut StdRng| -> Value {
        match rng.random_range(0..7) {
            0 => json!(rng.random::<i64>()),
            1 => json!(rng.random::<f64>() * 1e6),
            2 => json!(rng.random::<bool>()),
            3 => Value::Null,
            4 => json!(KEYS[rng.random_range(0..KEYS.len())]),
            5 => json!("now-1d/d"),
            _ => json!("a*b?c(d"),
        }
    };
    match v {
        Value::Object(m) if !m.is_empty() && depth < 20 => {
            let keys: Vec<String> = m.keys().cloned().collect();
            let k = &keys[rng.random_range(0..keys.len())];
            match rng.random_range(0..6) {
                0 => {
                    m.insert(k.clone(), random_scalar(rng));
                }
                1 => {
                    let inner = m.remove(k).unwrap_or(Value::Null);
                    m.insert(KEYS[rng.random_range(0..KEYS.len())].to_string(), inner);
                }
                2 => {
                    let inner = m.get(k).cloned().unwrap_or(Value::Null);
                    let n = rng.random_range(1..40);
                    let mut w = inner;
                    for _ in 0..n {
                        w = json!({"bool": {"must": [w]}});
                    }
                    m.insert(k.clone(), w);
                }
                _ => {
                    if let Some(child) = m.get_mut(k) {
                        mutate_json(rng, child, depth + 1);
                    }
                }
            }
        }
        Value::Array(a) if !a.is_empty() && depth < 20 => {
            let i = rng.random_range(0..a.len());
            match rng.random_range(0..4) {
                0 => {
                    let x = a[i].clone();
                    for _ in 0..rng.random_range(1..200) {
                        a.push(x.clone());
                    }
                }
                1 => {
                    a.remove(i);
                }
                _ => mutate_json(rng, &mut a[i], depth + 1),
            }
        }
        other => *other = random_scalar(rng),
    }
}

fn json_gen(file: &str) -> impl FnMut(&mut StdRng) -> String + Send + 'static {
    let seeds: Vec<Value> = seeds(file)
        .iter()
        .map(|l| serde_json::from_str(l).expect("seed JSON"))
        .collect();
    move |rng: &mut StdRng| {
        let mut v = seeds[rng.random_range(0..seeds.len())].clone();
        for _ in 0..rng.random_range(1..6) {
            mutate_json(rng, &mut v, 0);
        }
        v.to_string()
    }
}

#[test]
fn fuzz_query_dsl_to_sql() {
    run("query_dsl", json_gen("query_dsl.ndjson"), |s| {
        if let Ok(v) = serde_json::from_str::<Value>(s) {
            translate(&v);
        }
    });
}

#[test]
fn fuzz_mappings() {
    run("mappings", json_gen("mappings.ndjson"), |s| {
        if let Ok(v) = serde_json::from_str::<Value>(s)
            && let Ok(m) = elastichouse::schema::parse_mappings(&v)
        {
            let _ = elastichouse::limits::count(&m);
            let _ = m.columns();
            let _ = m.to_json();
            let mut merged = m.clone();
            let _ = merged.merge(&m);
        }
    });
}

#[test]
fn fuzz_bulk_and_documents() {
    // NDJSON bodies: action lines and documents from the mapping seeds, mutated.
    let mut docs = json_gen("mappings.ndjson");
    run(
        "bulk",
        move |rng: &mut StdRng| {
            let mut body = String::new();
            for _ in 0..rng.random_range(0..6) {
                match rng.random_range(0..5) {
                    0 => body.push_str("{\"index\":{\"_index\":\"fuzz\",\"_id\":\"1\"}}\n"),
                    1 => body.push_str("{\"delete\":{\"_id\":\"x\"}}\n"),
                    2 => body.push_str("{\"update\":{\"_id\":\"x\"}}\n{\"doc\":{\"a\":1}}\n"),
                    3 => body.push_str("{\"create\":{}}\n"),
                    _ => {}
                }
                body.push_str(&docs(rng));
                body.push('\n');
            }
            body
        },
        |s| {
            let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = s
                .as_bytes()
                .chunks(7)
                .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
                .collect();
            let defaults = elastichouse::ingest::bulk::BulkDefaults {
                index: Some("fuzz".into()),
                pipeline: None,
                require_alias: false,
            };
            let _ = futures::executor::block_on(elastichouse::ingest::bulk::parse(
                futures::stream::iter(chunks),
                defaults,
            ));
            META.with(|meta| {
                for line in s.lines() {
                    let _ = elastichouse::schema::prepare_document_bytes(
                        &meta.mappings,
                        &meta.columns,
                        line.as_bytes(),
                        "1",
                    );
                }
            });
        },
    );
}

/// The SQL a generated query renders to, as one SELECT (filter and score; BM25 statistics and
/// field lengths when the query scores), or `None` when the query is refused.
fn rendered_select(body: &Value) -> Option<String> {
    let params = elastichouse::es_api::Params::new();
    let (req, _) = elastichouse::es_api::search::parse_request(Some(body), &params, true).ok()?;
    META.with(|meta| {
        let (filter, score, stats, norms) =
            elastichouse::plan::filter_and_score(meta, 1_717_000_000_000, &req.query, true).ok()?;
        let mut items = vec![format!("{score} AS `_score`")];
        if let Some(st) = stats {
            items.push(format!("{st} AS `_eh_bm25_stats`"));
        }
        if let Some(n) = norms {
            items.push(format!("{n} AS `_eh_bm25_norms`"));
        }
        Some(format!(
            "SELECT {} FROM `elastichouse`.`fuzz` WHERE {filter}",
            items.join(", ")
        ))
    })
}

/// Property (issue 11): the SQL rendered for generated queries (the query DSL seeds, mutated)
/// always parses in ClickHouse: `EXPLAIN AST` on the real engine never answers SYNTAX_ERROR.
/// Refused queries are fine; what is rendered must be valid ClickHouse SQL.
#[tokio::test]
async fn rendered_sql_parses_in_clickhouse() {
    let d = common::daemon();
    let mut rng = StdRng::seed_from_u64(seed());
    let mut generate = json_gen("query_dsl.ndjson");
    let iters: u64 = std::env::var("ELASTICHOUSE_FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let mut checked = 0;
    // Every seed as it is, then mutated ones (most mutations are refused: they check the rest).
    let mut inputs = seeds("query_dsl.ndjson");
    let seeded = inputs.len();
    inputs.extend((0..iters).map(|_| generate(&mut rng)));
    let total = inputs.len();
    for text in inputs {
        let Ok(body) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let Some(select) = rendered_select(&body) else {
            continue;
        };
        let r = common::client()
            .post(format!("{}/?database={}", d.clickhouse, d.database))
            .body(format!("EXPLAIN AST {select}"))
            .send()
            .await
            .expect("clickhouse request");
        let ok = r.status().is_success();
        let answer = r.text().await.unwrap();
        assert!(
            ok || !answer.contains("SYNTAX_ERROR"),
            "rendered SQL does not parse\nquery: {text}\nsql: {select}\nClickHouse: {answer}"
        );
        checked += 1;
    }
    assert!(
        checked > seeded,
        "only {checked} of {total} generated queries rendered"
    );
}

#[test]
fn fuzz_kql() {
    const T: &[&str] = &[
        "a", ":", " ", " and ", " or ", "not ", "(", ")", "{", "}", "\"", "*", "\\", "<", ">=",
        "\\u00", "é",
    ];
    const N: &[(&str, &str)] = &[("(", ")"), ("a:(", ")"), ("a:{", "}"), ("not (", ")")];
    run("kql", string_gen("kql.txt", T, N), |s| {
        let fields = vec!["a".to_string(), "a.b".to_string()];
        if let Ok(dsl) = elastichouse::dsl::kql::to_dsl(s, Some(&fields)) {
            translate(&json!({ "query": dsl }));
        }
    });
}

#[test]
fn fuzz_ingest_pipelines() {
    // Pipeline definitions (compiled as PUT /_ingest/pipeline does: grok, dissect, templates,
    // Painless conditions and scripts) and the documents they run on, mutated together.
    run("ingest_pipelines", json_gen("pipelines.ndjson"), |s| {
        use elastichouse::ingest::pipeline::{Env, IngestDoc, Pipeline, Registry};
        let Ok(v) = serde_json::from_str::<Value>(s) else {
            return;
        };
        let Ok(p) = Pipeline::compile("fuzz", &v["pipeline"]) else {
            return;
        };
        let src = v["doc"].as_object().cloned().unwrap_or_default();
        let mut doc = IngestDoc::new("fuzz", Some("1"), None, src);
        let reg = Registry::new();
        let _ = p.run(&mut doc, &Env::new(&reg));
        let _ = doc.simulate_json();
    });
}

/// ES|QL (`POST /_query`): parse, plan against the index, render the ClickHouse statement.
#[test]
fn fuzz_esql() {
    const T: &[&str] = &[
        " | ",
        "FROM fuzz",
        " WHERE ",
        " EVAL ",
        " STATS ",
        " BY ",
        " SORT ",
        " KEEP ",
        " LIMIT ",
        " MV_EXPAND ",
        " DISSECT ",
        " GROK ",
        " RENAME ",
        " AS ",
        "(",
        ")",
        "[",
        "]",
        "\"",
        "`",
        "*",
        "+",
        "-",
        "/",
        "%",
        "::",
        ",",
        "=",
        "==",
        "!=",
        "<",
        ">=",
        " AND ",
        " OR ",
        " NOT ",
        " LIKE ",
        " RLIKE ",
        " IS NULL",
        "?",
        "?name",
        "1",
        "1.5",
        "1 day",
        "bytes",
        "status",
        "@timestamp",
        "host.name",
        "tags",
        "message",
        "COUNT(",
        "BUCKET(",
        "CASE(",
        "TO_STRING(",
        "DATE_TRUNC(",
        "MV_SUM(",
        "é",
        "\\",
    ];
    const N: &[(&str, &str)] = &[("(", ")"), ("[", "]"), ("CASE(", ", 1, 2)"), ("ABS(", ")")];
    run("esql", string_gen("esql.txt", T, N), |s| {
        use elastichouse::esql::{parser, plan};
        let Ok(q) = parser::parse(s, &parser::Params::default()) else {
            return;
        };
        ESQL_META.with(|meta| {
            let sources = [plan::SourceIndex {
                meta: meta.clone(),
                filter: elastichouse::sql::lit(true),
            }];
            if let Ok(planned) = plan::Planner::new(1_717_000_000_000, "8.17.0").plan(&q, &sources)
            {
                let _ = planned.select.to_string();
            }
        });
    });
}

/// Elasticsearch SQL (`POST /_sql`): sqlparser, the rewrite into ES|QL, plan and render; and
/// `/_sql/translate`'s query DSL.
#[test]
fn fuzz_essql() {
    const T: &[&str] = &[
        "SELECT ",
        " FROM fuzz",
        " WHERE ",
        " GROUP BY ",
        " HAVING ",
        " ORDER BY ",
        " LIMIT ",
        " AS ",
        "(",
        ")",
        "'",
        "\"",
        "*",
        "+",
        "-",
        "/",
        ",",
        "=",
        "<>",
        "<",
        ">=",
        " AND ",
        " OR ",
        " NOT ",
        " LIKE ",
        " RLIKE ",
        " IS NULL",
        " BETWEEN ",
        " IN (",
        "?",
        "1",
        "1.5",
        "INTERVAL 1 HOUR",
        "bytes",
        "status",
        "\"@timestamp\"",
        "\"host.name\"",
        "COUNT(*)",
        "HISTOGRAM(",
        "CASE WHEN ",
        " THEN ",
        " END",
        "CAST(",
        "MATCH(",
        "QUERY(",
        "é",
    ];
    const N: &[(&str, &str)] = &[
        ("(", ")"),
        ("(SELECT 1", ")"),
        ("CASE WHEN 1=1 THEN ", " END"),
    ];
    run("essql", string_gen("essql.txt", T, N), |s| {
        use elastichouse::esql::{essql, plan};
        let Ok(stmt) = essql::parse(s, &[]) else {
            return;
        };
        if let essql::SqlStatement::Select { query, .. } = stmt {
            ESQL_META.with(|meta| {
                let sources = [plan::SourceIndex {
                    meta: meta.clone(),
                    filter: elastichouse::sql::lit(true),
                }];
                if let Ok(planned) =
                    plan::Planner::new(1_717_000_000_000, "8.17.0").plan(&query, &sources)
                {
                    let _ = planned.select.to_string();
                }
                let types: std::collections::BTreeMap<String, String> = meta
                    .mappings
                    .leaf_fields()
                    .iter()
                    .map(|f| (f.path.clone(), f.es_type.clone()))
                    .collect();
                let _ = elastichouse::esql::translate::translate(s, &[], 1000, None, &types, "Z");
            });
        }
    });
}

thread_local! {
    static ESQL_META: std::sync::Arc<IndexMeta> = std::sync::Arc::new(meta_with(&mapping()));
}
