//! `mixdown schema --report`: the JSON Schema of the render report, shipped with the tool so
//! CI can validate reports against the version that wrote them.

use crate::cli::SchemaArgs;
use crate::error::{AppError, exit};

/// The render report's JSON Schema (`assets/report.schema.json`; `schema_version` 1).
pub const REPORT_SCHEMA: &str = include_str!("../../assets/report.schema.json");

pub fn run(args: &SchemaArgs) -> Result<u8, AppError> {
    if args.report {
        print!("{REPORT_SCHEMA}");
    }
    Ok(exit::OK)
}
