//! Writing query results in the formats the CLI offers.

use std::io::Write;

use clap::ValueEnum;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::WriterBuilder as CsvWriterBuilder;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::{ArrayWriter, LineDelimitedWriter};
use datafusion::arrow::util::pretty::pretty_format_batches;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned table, for people.
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON array of row objects.
    Json,
    /// One JSON object per row, per line (structs become objects, lists arrays).
    Ndjson,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <Self as ValueEnum>::from_str(s, true)
            .map_err(|_| format!("unknown format '{s}'; choose one of table, csv, json, ndjson"))
    }
}

/// Prints one statement's result, batch by batch where the format allows.
///
/// `table` needs every row to size its columns, so it buffers; the other
/// formats stream.
pub struct ResultPrinter<W: Write> {
    format: Format,
    out: W,
    schema: Option<SchemaRef>,
    buffered: Vec<RecordBatch>,
    rows: usize,
    csv_header_written: bool,
    json: Option<ArrayWriter<Vec<u8>>>,
}

impl<W: Write> ResultPrinter<W> {
    pub fn new(format: Format, out: W) -> Self {
        Self {
            format,
            out,
            schema: None,
            buffered: Vec::new(),
            rows: 0,
            csv_header_written: false,
            json: None,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn set_schema(&mut self, schema: SchemaRef) {
        self.schema = Some(schema);
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        self.rows += batch.num_rows();
        if self.schema.is_none() {
            self.schema = Some(batch.schema());
        }
        match self.format {
            Format::Table => self.buffered.push(batch.clone()),
            Format::Csv => {
                let mut writer = CsvWriterBuilder::new()
                    .with_header(!self.csv_header_written)
                    .build(&mut self.out);
                writer.write(batch)?;
                self.csv_header_written = true;
            }
            Format::Json => {
                // ArrayWriter owns its output until `finish`; give it a
                // buffer and flush that buffer as it grows.
                let writer = self.json.get_or_insert_with(|| ArrayWriter::new(Vec::new()));
                writer.write(batch)?;
            }
            Format::Ndjson => {
                let mut writer = LineDelimitedWriter::new(&mut self.out);
                writer.write(batch)?;
                writer.finish()?;
            }
        }
        Ok(())
    }

    /// Completes the output. Statements that return no columns (DDL, SET)
    /// print nothing.
    pub fn finish(mut self) -> Result<W, ArrowError> {
        let has_columns = self.schema.as_ref().is_some_and(|s| !s.fields().is_empty());
        match self.format {
            Format::Table if has_columns => {
                if self.buffered.is_empty() {
                    let schema = self.schema.clone().expect("has_columns implies a schema");
                    self.buffered.push(RecordBatch::new_empty(schema));
                }
                writeln!(self.out, "{}", pretty_format_batches(&self.buffered)?)?;
            }
            Format::Csv if has_columns && !self.csv_header_written => {
                let schema = self.schema.clone().expect("has_columns implies a schema");
                let mut writer = CsvWriterBuilder::new().with_header(true).build(&mut self.out);
                writer.write(&RecordBatch::new_empty(schema))?;
            }
            Format::Json if has_columns => match self.json.take() {
                Some(mut writer) => {
                    writer.finish()?;
                    let bytes = writer.into_inner();
                    if bytes.is_empty() {
                        writeln!(self.out, "[]")?;
                    } else {
                        self.out.write_all(&bytes)?;
                        writeln!(self.out)?;
                    }
                }
                None => writeln!(self.out, "[]")?,
            },
            _ => {}
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Array, Int64Array, ListArray, StringArray, StructArray};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;

    fn batch() -> RecordBatch {
        let list = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![Some(vec![Some(1), Some(2)]), None]);
        let fields = vec![Arc::new(Field::new("a", DataType::Int64, true))];
        let structs = StructArray::new(fields.into(), vec![Arc::new(Int64Array::from(vec![7, 8]))], None);
        let schema = Schema::new(vec![
            Field::new("x", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("l", list.data_type().clone(), true),
            Field::new("st", structs.data_type().clone(), true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(vec![Some(42), None])),
                Arc::new(StringArray::from(vec!["a,b", "c"])),
                Arc::new(list),
                Arc::new(structs),
            ],
        )
        .unwrap()
    }

    fn render(format: Format, batches: &[RecordBatch]) -> String {
        let mut printer = ResultPrinter::new(format, Vec::new());
        for b in batches {
            printer.write(b).unwrap();
        }
        String::from_utf8(printer.finish().unwrap()).unwrap()
    }

    #[test]
    fn ndjson_writes_one_object_per_row_with_nested_values() {
        let out = render(Format::Ndjson, &[batch()]);
        assert_eq!(
            out,
            "{\"x\":42,\"s\":\"a,b\",\"l\":[1,2],\"st\":{\"a\":7}}\n{\"s\":\"c\",\"st\":{\"a\":8}}\n"
        );
    }

    #[test]
    fn json_is_one_array_across_batches() {
        let out = render(Format::Json, &[batch(), batch()]);
        let parsed: Vec<&str> = out.trim().trim_start_matches('[').trim_end_matches(']').split("},{\"x\"").collect();
        assert!(out.starts_with("[{") && out.trim_end().ends_with("}]"), "{out}");
        assert_eq!(parsed.len(), 2, "{out}");
    }

    #[test]
    fn csv_writes_the_header_once() {
        let out = render(Format::Csv, &[batch().project(&[0, 1]).unwrap(), batch().project(&[0, 1]).unwrap()]);
        assert_eq!(out, "x,s\n42,\"a,b\"\n,c\n42,\"a,b\"\n,c\n");
    }

    #[test]
    fn empty_results_keep_their_shape() {
        let empty = RecordBatch::new_empty(batch().schema());
        assert_eq!(render(Format::Json, &[empty.clone()]), "[]\n");
        assert!(render(Format::Table, &[empty.clone()]).contains("| x "));
        assert!(render(Format::Csv, &[empty.project(&[0, 1]).unwrap()]).starts_with("x,s"));
    }

    #[test]
    fn formats_parse_case_insensitively_with_a_helpful_error() {
        assert_eq!("NDJSON".parse::<Format>().unwrap(), Format::Ndjson);
        let e = "xml".parse::<Format>().unwrap_err();
        assert!(e.contains("table, csv, json, ndjson"), "{e}");
    }
}
