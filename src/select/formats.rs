//! The file formats of a corpus and of a selection: Parquet, and
//! newline-delimited JSON (JSON Lines), plain or compressed.
//!
//! Most open pre-training corpora ship as compressed JSON Lines (Dolma's
//! `*.json.gz`, DCLM's and The Pile's `*.jsonl.zst`); pipelines downstream
//! read JSON Lines as often as Parquet. A file's format is read from its
//! name (`.parquet`; `.jsonl`, `.json`, `.ndjson`; each JSON one optionally
//! followed by `.gz`, `.zst`, `.bz2` or `.xz`), or given (`--input-format`)
//! for names without one. One input holds one format and one compression:
//! DataFusion reads a table with one reader.

use std::path::Path;

use datafusion::datasource::listing::ListingTableUrl;

use crate::engine::Engine;
use crate::error::Result;
use crate::error::select::{SelectOption, wrong};

/// The lines the JSON reader reads the columns and their types from
/// (DataFusion's `schema_infer_max_rec`), with room for blank lines.
pub(crate) const SCHEMA_LINES: u64 = 2_000;

/// What a corpus file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputFormat {
    Parquet,
    /// Newline-delimited JSON: one object per line.
    Json,
}

impl InputFormat {
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Parquet => "parquet",
            InputFormat::Json => "json",
        }
    }
}

impl std::str::FromStr for InputFormat {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "parquet" => Ok(InputFormat::Parquet),
            "json" | "jsonl" | "ndjson" => Ok(InputFormat::Json),
            _ => Err(format!("expected parquet or json (JSON Lines), got '{text}'")),
        }
    }
}

/// How a JSON Lines file is compressed, as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

impl Compression {
    const SUFFIXES: [(&'static str, Compression); 4] =
        [(".gz", Compression::Gzip), (".zst", Compression::Zstd), (".bz2", Compression::Bzip2), (".xz", Compression::Xz)];

    /// The compression a name's last extension says, and the name without it.
    fn of_name(name: &str) -> (Compression, &str) {
        let lower = name.to_ascii_lowercase();
        for (suffix, compression) in Self::SUFFIXES {
            if lower.ends_with(suffix) {
                return (compression, &name[..name.len() - suffix.len()]);
            }
        }
        (Compression::None, name)
    }

    /// DataFusion's name of it (`format.compression`).
    fn datafusion_name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
        }
    }

    fn suffix(self) -> &'static str {
        Self::SUFFIXES.iter().find(|(_, c)| *c == self).map_or("", |(s, _)| s)
    }
}

/// A file format with its compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileFormat {
    pub format: InputFormat,
    pub compression: Compression,
}

impl FileFormat {
    pub const PARQUET: FileFormat = FileFormat { format: InputFormat::Parquet, compression: Compression::None };

    /// What a file's name says it holds: `None` for a name with no known
    /// format (a compressed one has at least its compression).
    pub fn of_name(name: &str) -> (Option<InputFormat>, Compression) {
        let (compression, rest) = Compression::of_name(name);
        let lower = rest.to_ascii_lowercase();
        let format = if lower.ends_with(".parquet") && compression == Compression::None {
            Some(InputFormat::Parquet)
        } else if [".jsonl", ".json", ".ndjson"].iter().any(|e| lower.ends_with(e)) {
            Some(InputFormat::Json)
        } else {
            None
        };
        (format, compression)
    }

    /// `STORED AS` of a table or a `COPY`.
    pub fn stored_as(self) -> &'static str {
        match self.format {
            InputFormat::Parquet => "PARQUET",
            InputFormat::Json => "JSON",
        }
    }

    /// The `OPTIONS (...)` a table or `COPY` of this format needs ("" for
    /// none), with a space before it.
    pub fn options(self) -> String {
        match self.format {
            InputFormat::Parquet => String::new(),
            InputFormat::Json => format!(" OPTIONS ('format.compression' '{}')", self.compression.datafusion_name()),
        }
    }

    /// The `OPTIONS (...)` of a `COPY` that writes this format: a Parquet
    /// writer buffers a whole row group, so it is kept to 64k rows (the
    /// default, 1M rows of documents, is gigabytes of text).
    pub fn write_options(self) -> String {
        match self.format {
            InputFormat::Parquet => " OPTIONS ('format.max_row_group_size' '65536')".into(),
            InputFormat::Json => self.options(),
        }
    }

    /// `.parquet`, `.jsonl.zst`, ...: the end of the name of a file of it.
    pub fn extension(self) -> String {
        match self.format {
            InputFormat::Parquet => ".parquet".into(),
            InputFormat::Json => format!(".jsonl{}", self.compression.suffix()),
        }
    }

    /// How a message names it: Parquet, JSON Lines, JSON Lines (zstd).
    pub fn describe(self) -> String {
        match (self.format, self.compression) {
            (InputFormat::Parquet, _) => "Parquet".into(),
            (InputFormat::Json, Compression::None) => "JSON Lines".into(),
            (InputFormat::Json, c) => format!("JSON Lines ({})", c.datafusion_name()),
        }
    }

    /// The format of an output named `out`: JSON Lines for `.jsonl`,
    /// `.json` and `.ndjson` names (compressed as a `.gz`, `.zst`, `.bz2`
    /// or `.xz` after them says), Parquet otherwise.
    pub fn of_output(out: &Path) -> std::result::Result<FileFormat, String> {
        let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match FileFormat::of_name(&name) {
            (Some(format), compression) => Ok(FileFormat { format, compression }),
            (None, Compression::None) => Ok(FileFormat::PARQUET),
            (None, compression) => Err(format!(
                "'{name}' ends in {}, but Parquet files are not compressed as a whole: name a .parquet file, or \
                 JSON Lines such as {}",
                compression.suffix(),
                FileFormat { format: InputFormat::Json, compression }.extension()
            )),
        }
    }
}

/// A file's URL as a message shows it: a local file as its path.
pub(crate) fn shown(location: &str) -> &str {
    location.strip_prefix("file://").unwrap_or(location)
}

/// The files `input` names (a file, a directory, a glob), as URLs, in order.
pub(crate) async fn input_files(engine: &Engine, input: &str) -> Result<Vec<String>> {
    use futures::TryStreamExt;
    let url = ListingTableUrl::parse(input)?;
    let state = engine.context().state();
    let store = state.runtime_env().object_store(url.object_store())?;
    let store_url = url.object_store();
    let listed: Vec<_> = url.list_all_files(&state, store.as_ref(), "").await?.try_collect().await?;
    // (An object store URL ends with '/': file:///, s3://bucket/.)
    let mut names: Vec<String> = listed.iter().map(|m| format!("{}{}", store_url.as_str(), m.location)).collect();
    names.sort();
    Ok(names)
}

/// How to read an input: the format of its files, and the location the
/// corpus table reads (the input itself, or for a directory of JSON Lines
/// a glob of its files' extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Input {
    pub format: FileFormat,
    pub location: String,
}

/// The format of `input`'s files: each file's name says it (or `given`
/// does), and all must say the same. In a directory, files whose names say
/// no format (`_SUCCESS`, `README`) are not part of the corpus, as
/// DataFusion reads a directory of Parquet files by their extension.
pub(crate) async fn input_format(engine: &Engine, input: &str, given: Option<InputFormat>) -> Result<Input> {
    let cannot_read = |why: String| {
        let input = input.to_string();
        wrong(SelectOption::Input, move |o| format!("{} '{input}' cannot be read: {why}", o.input))
    };
    let directory = ListingTableUrl::parse(input).map(|u| u.is_collection() && u.get_glob().is_none()).unwrap_or(false);
    let mut names = input_files(engine, input).await.map_err(|e| cannot_read(crate::error::one_line(&e.to_string())))?;
    if directory && given.is_none() {
        names.retain(|name| FileFormat::of_name(name).0.is_some());
    }
    if names.is_empty() {
        let input = input.to_string();
        return Err(wrong(SelectOption::Input, move |o| {
            format!(
                "{} '{input}' names no Parquet or JSON Lines file (.parquet, .jsonl, .json, .ndjson, plain or .gz, \
                 .zst, .bz2, .xz); give a file, a directory of them or a glob, or pass {} for names that say none",
                o.input, o.input_format
            )
        }));
    }
    let mut found: Option<(FileFormat, &str)> = None;
    for name in &names {
        let (named, compression) = FileFormat::of_name(name);
        let name = shown(name);
        let format = match (given, named) {
            (Some(InputFormat::Parquet), _) if compression != Compression::None => {
                let name = name.to_string();
                return Err(wrong(SelectOption::InputFormat, move |o| {
                    format!(
                        "{} parquet, but '{name}' is compressed as a whole ({}), as only JSON Lines are; pass {} json \
                         if it holds JSON Lines",
                        o.input_format,
                        compression.datafusion_name(),
                        o.input_format
                    )
                }));
            }
            (Some(format), _) => FileFormat { format, compression },
            (None, Some(format)) => FileFormat { format, compression },
            (None, None) => {
                let name = name.to_string();
                return Err(wrong(SelectOption::Input, move |o| {
                    format!(
                        "cannot tell the format of '{name}' from its name (not .parquet, .jsonl, .json or .ndjson, \
                         plain or .gz, .zst, .bz2, .xz); pass {} parquet or {} json",
                        o.input_format, o.input_format
                    )
                }));
            }
        };
        match found {
            None => found = Some((format, name)),
            Some((seen, seen_name)) if seen != format => {
                let (input, a, b) = (input.to_string(), format!("{seen_name} ({})", seen.describe()), format!("{name} ({})", format.describe()));
                return Err(wrong(SelectOption::Input, move |o| {
                    format!(
                        "{} '{input}' mixes formats: {a} and {b}; one input holds one format and one compression: \
                         give each its own glob, or convert them to one",
                        o.input
                    )
                }));
            }
            Some(_) => {}
        }
    }
    let format = found.expect("one file at least").0;
    // DataFusion reads a directory as the files of its format's own
    // extension (*.json, *.json.gz): a directory of .jsonl or .ndjson files
    // is read by a glob of the extension its files share.
    let location = match (directory, format.format) {
        (true, InputFormat::Json) => {
            let extensions: std::collections::BTreeSet<String> = names.iter().map(|n| json_extension(n)).collect();
            if extensions.len() > 1 {
                let (input, list) = (input.to_string(), extensions.into_iter().collect::<Vec<_>>().join(", "));
                return Err(wrong(SelectOption::Input, move |o| {
                    format!("{} '{input}' holds JSON Lines named {list}; give a glob of one, e.g. '{input}*.jsonl.gz'", o.input)
                }));
            }
            format!("{}/*{}", input.trim_end_matches('/'), extensions.into_iter().next().unwrap_or_default())
        }
        _ => input.to_string(),
    };
    Ok(Input { format, location })
}

/// The extension of a JSON Lines file's name, from its format's part on
/// (`.jsonl.gz`); "" for a name with none.
fn json_extension(name: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    let lower = base.to_ascii_lowercase();
    [".jsonl", ".ndjson", ".json"]
        .iter()
        .filter_map(|e| lower.rfind(e).map(|at| base[at..].to_string()))
        .max_by_key(|e| e.len())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_says_its_format_and_its_compression() {
        use Compression::*;
        use InputFormat::*;
        assert_eq!(FileFormat::of_name("a/b.parquet"), (Some(Parquet), None));
        assert_eq!(FileFormat::of_name("c4-train.00001-of-01024.json.gz"), (Some(Json), Gzip));
        assert_eq!(FileFormat::of_name("shard_00000.jsonl.zst"), (Some(Json), Zstd));
        assert_eq!(FileFormat::of_name("x.NDJSON.bz2"), (Some(Json), Bzip2));
        assert_eq!(FileFormat::of_name("x.jsonl.xz"), (Some(Json), Xz));
        assert_eq!(FileFormat::of_name("part-0000"), (Option::None, None));
        assert_eq!(FileFormat::of_name("part-0000.gz"), (Option::None, Gzip));
        // A compressed Parquet name is not a format odis reads.
        assert_eq!(FileFormat::of_name("x.parquet.gz"), (Option::None, Gzip));
        assert_eq!(json_extension("s3://b/docs/part-0.JSONL.zst"), ".JSONL.zst");
        assert_eq!(json_extension("a/b.json.gz"), ".json.gz");
        assert_eq!(json_extension("a/b.ndjson"), ".ndjson");
    }

    #[test]
    fn an_output_is_json_lines_by_its_name_and_parquet_otherwise() {
        let json = |c| Ok(FileFormat { format: InputFormat::Json, compression: c });
        assert_eq!(FileFormat::of_output(Path::new("out/sel.parquet")), Ok(FileFormat::PARQUET));
        assert_eq!(FileFormat::of_output(Path::new("out/sel")), Ok(FileFormat::PARQUET));
        assert_eq!(FileFormat::of_output(Path::new("sel.jsonl")), json(Compression::None));
        assert_eq!(FileFormat::of_output(Path::new("sel.jsonl.gz")), json(Compression::Gzip));
        assert_eq!(FileFormat::of_output(Path::new("s3://b/sel.jsonl.zst")), json(Compression::Zstd));
        let e = FileFormat::of_output(Path::new("sel.parquet.gz")).unwrap_err();
        assert!(e.contains("name a .parquet file, or JSON Lines such as .jsonl.gz"), "{e}");
    }

    #[test]
    fn a_format_renders_its_table_options() {
        let zstd = FileFormat { format: InputFormat::Json, compression: Compression::Zstd };
        assert_eq!(zstd.stored_as(), "JSON");
        assert_eq!(zstd.options(), " OPTIONS ('format.compression' 'zstd')");
        assert_eq!(zstd.extension(), ".jsonl.zst");
        assert_eq!(FileFormat::PARQUET.options(), "");
        assert_eq!(zstd.write_options(), zstd.options());
        assert!(FileFormat::PARQUET.write_options().contains("'format.max_row_group_size' '65536'"));
        assert_eq!("JSONL".parse::<InputFormat>(), Ok(InputFormat::Json));
        assert!("csv".parse::<InputFormat>().unwrap_err().contains("parquet or json"));
    }
}

/// Why a read of a corpus in `format` failed, with what to do.
pub(crate) fn unreadable_hint(format: FileFormat, why: &str) -> String {
    let parquet_footer = why.contains("Corrupt footer") || why.contains("Invalid Parquet file") || why.contains("PAR1");
    match format.format {
        InputFormat::Parquet if parquet_footer => format!(
            "{why}; it is not a Parquet file: if it holds JSON Lines, name it .jsonl (.jsonl.gz, .jsonl.zst, ...) or \
             pass --input-format json"
        ),
        InputFormat::Json if why.contains("invalid gzip header") || why.contains("Unknown frame descriptor") => {
            format!("{why}; it is not compressed as {} says: name each file by what it holds", format.describe())
        }
        _ => why.to_string(),
    }
}

/// What is wrong where in a JSON Lines file: the first line that does not
/// parse, is not an object, or holds a value of another type than the
/// table's column (whose type the first lines set). Read only after a read
/// failed, to name the file and line the reader's error does not; at most
/// `max_lines` lines in all, when given.
pub(crate) async fn locate_json_error(
    engine: &Engine,
    files: &[String],
    compression: Compression,
    schema: Option<&datafusion::arrow::datatypes::Schema>,
    max_lines: Option<u64>,
) -> Option<String> {
    use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
    use futures::StreamExt;
    use object_store::ObjectStoreExt;
    let state = engine.context().state();
    let variant = match compression {
        Compression::None => FileCompressionType::UNCOMPRESSED,
        Compression::Gzip => FileCompressionType::GZIP,
        Compression::Zstd => FileCompressionType::ZSTD,
        Compression::Bzip2 => FileCompressionType::BZIP2,
        Compression::Xz => FileCompressionType::XZ,
    };
    let mut budget = max_lines.unwrap_or(u64::MAX);
    for file in files {
        let url = ListingTableUrl::parse(file).ok()?;
        let store = state.runtime_env().object_store(url.object_store()).ok()?;
        let path = object_store::path::Path::from_url_path(url.get_url().path()).ok()?;
        let bytes = store.get(&path).await.ok()?.into_stream().map(|b| b.map_err(Into::into)).boxed();
        let mut stream = match variant.convert_stream(bytes) {
            Ok(s) => s,
            Err(e) => return Some(format!("{}: {e}", shown(file))),
        };
        let (mut pending, mut line) = (Vec::<u8>::new(), 0u64);
        loop {
            let chunk = match stream.next().await {
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => {
                    let e = crate::error::one_line(&e.to_string());
                    return Some(format!("{}: cannot be decompressed as {} after line {line}: {e}", shown(file), compression.datafusion_name()));
                }
                None => break,
            };
            pending.extend_from_slice(&chunk);
            let mut start = 0;
            while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
                line += 1;
                budget = budget.checked_sub(1)?;
                if let Some(why) = bad_line(&pending[start..start + end], schema) {
                    return Some(format!("{}, line {line}: {why}", shown(file)));
                }
                start += end + 1;
            }
            pending.drain(..start);
        }
        if !pending.is_empty() {
            line += 1;
            if let Some(why) = bad_line(&pending, schema) {
                return Some(format!("{}, line {line}: {why}", shown(file)));
            }
        }
    }
    None
}

/// Why one line of JSON Lines cannot be a row of `schema`, if it cannot.
fn bad_line(line: &[u8], schema: Option<&datafusion::arrow::datatypes::Schema>) -> Option<String> {
    use datafusion::arrow::datatypes::DataType;
    use serde_json::Value;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return Some(format!("not JSON ({e}); each line must be one JSON object")),
    };
    let Value::Object(fields) = value else {
        return Some("not a JSON object; each line must be one object, e.g. {\"id\": 1, \"text\": \"...\"}".into());
    };
    let schema = schema?;
    for (name, value) in &fields {
        let Ok(field) = schema.field_with_name(name) else { continue };
        let fits = match (field.data_type(), value) {
            (_, Value::Null) => true,
            (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, v) => v.is_string(),
            (DataType::Int64 | DataType::Int32 | DataType::UInt64, v) => v.is_i64() || v.is_u64(),
            (DataType::Float64 | DataType::Float32, v) => v.is_number(),
            (DataType::Boolean, v) => v.is_boolean(),
            (DataType::Struct(_), v) => v.is_object(),
            (DataType::List(_) | DataType::LargeList(_), v) => v.is_array(),
            _ => true,
        };
        if !fits {
            let held = match value {
                Value::Bool(_) => "a boolean",
                Value::Number(n) if n.is_f64() => "a fractional number",
                Value::Number(_) => "an integer",
                Value::String(_) => "a string",
                Value::Array(_) => "a list",
                Value::Object(_) => "an object",
                Value::Null => "null",
            };
            return Some(format!(
                "the field '{name}' holds {held}, where the first lines hold {}; give each field one type in every line",
                field.data_type()
            ));
        }
    }
    None
}
