//! Parsing a `_bulk` body (NDJSON) the way Elasticsearch's BulkRequestParser does.
//!
//! Elasticsearch validates every action line before it executes any item: a malformed action line
//! fails the whole request with 400 and nothing is written. To keep that promise without holding a
//! large body in memory, the body is spooled (in memory up to [`SPOOL_IN_MEMORY`], then to a temp
//! file) while action lines are parsed; execution then reads documents back batch by batch.
//! (elastic/elasticsearch: server/src/main/java/org/elasticsearch/action/bulk/BulkRequestParser.java)

use crate::error::{EsError, EsResult};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Map, Value};
use std::io::{Read, Seek, SeekFrom, Write};

/// Bodies up to this size stay in memory; larger ones go to a temp file.
pub const SPOOL_IN_MEMORY: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpType {
    Index,
    Create,
    Update,
    Delete,
}

impl OpType {
    pub fn name(self) -> &'static str {
        match self {
            OpType::Index => "index",
            OpType::Create => "create",
            OpType::Update => "update",
            OpType::Delete => "delete",
        }
    }
}

/// One action of a bulk request, its document still in the spool.
#[derive(Debug, Clone)]
pub struct BulkAction {
    pub op: OpType,
    pub index: String,
    pub id: Option<String>,
    pub if_seq_no: Option<u64>,
    pub if_primary_term: Option<u64>,
    pub require_alias: bool,
    pub pipeline: Option<String>,
    /// Byte range of the source line in the spool (absent for delete).
    pub source: Option<(u64, usize)>,
    /// The parsed update request body (update actions only).
    pub update: Option<Map<String, Value>>,
    /// 1-based line number of the action (for error messages).
    pub line: usize,
}

/// Where the body lives while it is executed.
#[derive(Debug)]
pub enum Spool {
    Memory(Vec<u8>),
    File(std::fs::File),
}

impl Spool {
    /// Reads one source line back.
    pub fn read(&mut self, (offset, len): (u64, usize)) -> std::io::Result<Vec<u8>> {
        match self {
            Spool::Memory(v) => Ok(v[offset as usize..offset as usize + len].to_vec()),
            Spool::File(f) => {
                f.seek(SeekFrom::Start(offset))?;
                let mut buf = vec![0; len];
                f.read_exact(&mut buf)?;
                Ok(buf)
            }
        }
    }
}

#[derive(Debug)]
pub struct ParsedBulk {
    pub actions: Vec<BulkAction>,
    pub spool: Spool,
}

/// Options given on the URL that act as defaults for every action.
#[derive(Debug, Clone, Default)]
pub struct BulkDefaults {
    pub index: Option<String>,
    pub pipeline: Option<String>,
    pub require_alias: bool,
}

struct Parser {
    defaults: BulkDefaults,
    actions: Vec<BulkAction>,
    /// The action waiting for its source line.
    pending: Option<BulkAction>,
    line: usize,
}

fn malformed(line: usize, detail: String) -> EsError {
    EsError::illegal_argument(format!("Malformed action/metadata line [{line}], {detail}"))
}

impl Parser {
    fn action_line(&mut self, bytes: &[u8]) -> EsResult<()> {
        let line = self.line;
        let v: Value = serde_json::from_slice(bytes).map_err(|e| {
            EsError::x_content_parse(format!("[{}:{}] {}", line, e.column(), strip_pos(&e)))
        })?;
        let Value::Object(obj) = v else {
            return Err(malformed(
                line,
                "expected START_OBJECT but found [VALUE_STRING]".into(),
            ));
        };
        if obj.len() != 1 {
            return Err(malformed(
                line,
                format!(
                    "expected one of [create, delete, index, update] but found [{}]",
                    obj.len()
                ),
            ));
        }
        let (name, meta) = obj.into_iter().next().expect("one key");
        let op = match name.as_str() {
            "index" => OpType::Index,
            "create" => OpType::Create,
            "update" => OpType::Update,
            "delete" => OpType::Delete,
            other => {
                return Err(malformed(
                    line,
                    format!("expected one of [create, delete, index, update] but found [{other}]"),
                ));
            }
        };
        let Value::Object(meta) = meta else {
            return Err(malformed(
                line,
                "expected START_OBJECT but found [VALUE_STRING]".into(),
            ));
        };
        let mut a = BulkAction {
            op,
            index: self.defaults.index.clone().unwrap_or_default(),
            id: None,
            if_seq_no: None,
            if_primary_term: None,
            require_alias: self.defaults.require_alias,
            pipeline: self.defaults.pipeline.clone(),
            source: None,
            update: None,
            line,
        };
        for (k, v) in meta {
            match k.as_str() {
                "_index" => a.index = scalar_string(&v),
                "_id" => a.id = Some(scalar_string(&v)),
                "if_seq_no" => a.if_seq_no = v.as_u64(),
                "if_primary_term" => a.if_primary_term = v.as_u64(),
                "require_alias" => a.require_alias = v.as_bool().unwrap_or(false),
                "pipeline" => a.pipeline = Some(scalar_string(&v)),
                // Accepted with Elasticsearch's meaning of "nothing to do" on a one-shard index.
                "routing"
                | "retry_on_conflict"
                | "_source"
                | "dynamic_templates"
                | "list_executed_pipelines"
                | "require_data_stream" => {}
                "version" | "version_type" => {
                    return Err(EsError::unsupported(format!(
                        "bulk action parameter [{k}] (external versioning)"
                    )));
                }
                _ => {
                    return Err(EsError::illegal_argument(format!(
                        "Action/metadata line [{line}] contains an unknown parameter [{k}]"
                    )));
                }
            }
        }
        if a.index.is_empty() {
            return Err(EsError::action_request_validation(
                "Validation Failed: 1: index is missing;",
            ));
        }
        if a.id.as_deref() == Some("") {
            return Err(EsError::action_request_validation(
                "Validation Failed: 1: id is too short, must be no less than 1 bytes;",
            ));
        }
        if op == OpType::Delete {
            if a.id.is_none() {
                return Err(EsError::action_request_validation(
                    "Validation Failed: 1: id is missing;",
                ));
            }
            self.actions.push(a);
        } else {
            if op == OpType::Update && a.id.is_none() {
                return Err(EsError::action_request_validation(
                    "Validation Failed: 1: id is missing;",
                ));
            }
            self.pending = Some(a);
        }
        Ok(())
    }

    fn source_line(&mut self, bytes: &[u8], offset: u64) -> EsResult<()> {
        let mut a = self.pending.take().expect("pending action");
        if a.op == OpType::Update {
            // Update bodies are parsed with the request (UpdateRequest#fromXContent).
            let v: Value = serde_json::from_slice(bytes).map_err(|e| {
                EsError::x_content_parse(format!(
                    "[{}:{}] {}",
                    self.line,
                    e.column(),
                    strip_pos(&e)
                ))
            })?;
            let Value::Object(m) = v else {
                return Err(EsError::parsing(format!(
                    "[{}:1] Unexpected token, expected START_OBJECT for update request",
                    self.line
                )));
            };
            for k in m.keys() {
                if !matches!(
                    k.as_str(),
                    "doc"
                        | "upsert"
                        | "doc_as_upsert"
                        | "detect_noop"
                        | "scripted_upsert"
                        | "script"
                        | "_source"
                ) {
                    return Err(EsError::x_content_parse(format!(
                        "[{}:2] [UpdateRequest] unknown field [{k}]",
                        self.line
                    )));
                }
            }
            a.update = Some(m);
        }
        a.source = Some((offset, bytes.len()));
        self.actions.push(a);
        Ok(())
    }
}

fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn strip_pos(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Reads a bulk body from a stream of chunks, validating action lines as they arrive.
pub async fn parse<S, E>(mut body: S, defaults: BulkDefaults) -> EsResult<ParsedBulk>
where
    S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut p = Parser {
        defaults,
        actions: Vec::new(),
        pending: None,
        line: 0,
    };
    let mut mem: Vec<u8> = Vec::new();
    let mut file: Option<std::fs::File> = None;
    let mut written: u64 = 0; // bytes moved from `mem` to the file
    let mut scan_from = 0usize; // position in `mem` of the next unterminated line
    let mut saw_any = false;
    let mut last_byte = b'\n';

    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|e| EsError::illegal_argument(format!("cannot read the request body: {e}")))?;
        if chunk.is_empty() {
            continue;
        }
        last_byte = *chunk.last().unwrap();
        // Only the new bytes can hold the next newline: never rescan an unterminated line (a
        // long line arriving in many chunks would cost quadratic time).
        let mut search_from = mem.len().max(scan_from);
        mem.extend_from_slice(&chunk);
        while let Some(nl) = mem[search_from..].iter().position(|b| *b == b'\n') {
            let start = scan_from;
            let end = search_from + nl;
            scan_from = end + 1;
            search_from = scan_from;
            let mut line = &mem[start..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            p.line += 1;
            if p.pending.is_some() {
                p.source_line(line, written + start as u64)?;
            } else if !line.iter().all(|b| b.is_ascii_whitespace()) {
                saw_any = true;
                p.action_line(line)?;
            }
        }
        // Spill complete lines to disk once the in-memory part is large.
        if mem.len() > SPOOL_IN_MEMORY {
            let f =
                match &mut file {
                    Some(f) => f,
                    None => file.insert(tempfile::tempfile().map_err(|e| {
                        EsError::storage(format!("cannot spool the bulk body: {e}"))
                    })?),
                };
            f.write_all(&mem[..scan_from])
                .map_err(|e| EsError::storage(format!("cannot spool the bulk body: {e}")))?;
            written += scan_from as u64;
            mem.drain(..scan_from);
            scan_from = 0;
        }
    }
    // The last line: Elasticsearch requires a terminating newline after a source line.
    let rest = &mem[scan_from..];
    if (!rest.iter().all(|b| b.is_ascii_whitespace()) || p.pending.is_some())
        && (p.pending.is_some() || last_byte != b'\n')
    {
        return Err(EsError::illegal_argument(
            "The bulk request must be terminated by a newline [\\n]",
        ));
    }
    let _ = saw_any;
    if p.actions.is_empty() {
        return Err(EsError::action_request_validation(
            "Validation Failed: 1: no requests added;",
        ));
    }
    let spool = match file {
        None => Spool::Memory(mem),
        Some(mut f) => {
            f.write_all(&mem)
                .map_err(|e| EsError::storage(format!("cannot spool the bulk body: {e}")))?;
            Spool::File(f)
        }
    };
    Ok(ParsedBulk {
        actions: p.actions,
        spool,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse_str(s: &str) -> EsResult<ParsedBulk> {
        let chunks: Vec<Result<Bytes, String>> = s
            .as_bytes()
            .chunks(7)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        parse(
            futures::stream::iter(chunks),
            BulkDefaults {
                index: Some("d".into()),
                ..Default::default()
            },
        )
        .await
    }

    #[tokio::test]
    async fn parses_all_four_actions() {
        let body = "{\"index\":{\"_id\":\"1\"}}\n{\"a\":1}\n{\"create\":{\"_index\":\"x\"}}\n{\"b\":2}\n\
{\"update\":{\"_id\":\"1\"}}\n{\"doc\":{\"a\":2}}\n{\"delete\":{\"_id\":\"1\"}}\n";
        let mut p = parse_str(body).await.unwrap();
        let ops: Vec<_> = p.actions.iter().map(|a| a.op).collect();
        assert_eq!(
            ops,
            [
                OpType::Index,
                OpType::Create,
                OpType::Update,
                OpType::Delete
            ]
        );
        assert_eq!(p.actions[1].index, "x");
        assert_eq!(p.actions[0].index, "d");
        let src = p.actions[0].source.unwrap();
        assert_eq!(p.spool.read(src).unwrap(), b"{\"a\":1}");
        assert_eq!(p.actions[2].update.as_ref().unwrap()["doc"]["a"], 2);
    }

    #[tokio::test]
    async fn malformed_lines_fail_the_whole_request() {
        // BulkRequestParser: unknown action, unknown parameter, missing newline, empty body.
        let e = parse_str("{\"foo\":{}}\n{}\n").await.unwrap_err();
        assert!(
            e.reason
                .contains("expected one of [create, delete, index, update] but found [foo]"),
            "{}",
            e.reason
        );
        let e = parse_str("{\"index\":{\"_foo\":1}}\n{}\n")
            .await
            .unwrap_err();
        assert_eq!(
            e.reason,
            "Action/metadata line [1] contains an unknown parameter [_foo]"
        );
        let e = parse_str("{\"index\":{}}\n{\"a\":1}").await.unwrap_err();
        assert!(e.reason.contains("must be terminated by a newline"));
        let e = parse_str("\n").await.unwrap_err();
        assert_eq!(e.kind, "action_request_validation_exception");
        let e = parse_str("{not json}\n").await.unwrap_err();
        assert_eq!(e.kind, "x_content_parse_exception");
    }

    #[tokio::test]
    async fn large_bodies_spill_to_a_file() {
        let doc = format!("{{\"index\":{{}}}}\n{{\"m\":\"{}\"}}\n", "x".repeat(1000));
        let n = SPOOL_IN_MEMORY / doc.len() + 100;
        let body = doc.repeat(n);
        let mut p = parse_str(&body).await.unwrap();
        assert!(matches!(p.spool, Spool::File(_)));
        assert_eq!(p.actions.len(), n);
        let last = p.actions.last().unwrap().source.unwrap();
        let got = p.spool.read(last).unwrap();
        assert!(got.starts_with(b"{\"m\":\"xxx") && got.ends_with(b"\"}"));
    }
}
