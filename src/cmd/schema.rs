//! `mixdown schema`: the session file's JSON Schema, generated from the key table so editors
//! complete and check session files as `check` does; with `--report`, the render report's schema,
//! shipped with the tool so CI can validate reports against the version that wrote them; with
//! `--markdown`, the session reference tables of the README.

use crate::cli::SchemaArgs;
use crate::error::{AppError, exit};
use crate::session::schema;

use super::shell::write_stdout;

/// The render report's JSON Schema (`assets/report.schema.json`; `schema_version` 1).
pub const REPORT_SCHEMA: &str = include_str!("../../assets/report.schema.json");

pub fn run(args: &SchemaArgs) -> Result<u8, AppError> {
    let text = if args.report {
        REPORT_SCHEMA.to_string()
    } else if args.markdown {
        schema::markdown()
    } else {
        format!("{:#}\n", schema::json_schema())
    };
    write_stdout(text.as_bytes())?;
    Ok(exit::OK)
}
