//! Reading the files an office hands over: CSV (UTF-8, with or without the byte-order mark
//! Excel writes) and spreadsheets (XLSX and the other formats `calamine` reads), into tables of
//! text cells with the row number a person sees in the file. A sheet's kind is named by the
//! sheet (`楼栋`, `buildings`), or by the file when the sheet's name says nothing.

use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};

use super::columns::Kind;

/// One cell's text, trimmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    /// A number too long for a spreadsheet to keep exactly (a 19-digit address code or an
    /// 18-digit ID number typed as a number): its digits are already lost.
    pub rounded: bool,
}

/// The rows of one kind from one file or sheet.
#[derive(Debug, Clone)]
pub struct Table {
    /// The file name (`楼栋.csv`), or the workbook and sheet (`基础数据.xlsx:楼栋`).
    pub source: String,
    pub kind: Kind,
    pub headers: Vec<String>,
    /// Each data row with its row number in the file (the header is row 1).
    pub rows: Vec<(usize, Vec<Cell>)>,
}

/// A file that cannot be read at all.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {problem}")]
pub struct FileError {
    pub source_name: String,
    pub problem: String,
}

fn file_error(source: &str, problem: impl Into<String>) -> FileError {
    FileError {
        source_name: source.to_string(),
        problem: problem.into(),
    }
}

/// The tables in `path`: one for a CSV file, one per sheet of a known kind for a workbook.
pub fn read(path: &Path) -> Result<Vec<Table>, FileError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = path
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "csv" => {
            let kind = Kind::named(&stem).ok_or_else(|| {
                file_error(
                    &name,
                    format!(
                        "the file name does not say its kind; name it {}",
                        Kind::names()
                    ),
                )
            })?;
            read_csv(path, &name, kind).map(|t| vec![t])
        }
        "xlsx" | "xlsm" | "xls" | "xlsb" | "ods" => read_workbook(path, &name, Kind::named(&stem)),
        _ => Err(file_error(
            &name,
            "not a CSV or spreadsheet file (.csv, .xlsx, .xls, .ods)",
        )),
    }
}

fn read_csv(path: &Path, name: &str, kind: Kind) -> Result<Table, FileError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .map_err(|e| file_error(name, format!("cannot open: {e}")))?;
    let mut headers = None;
    let mut rows = vec![];
    for record in reader.byte_records() {
        let record = record.map_err(|e| file_error(name, format!("not valid CSV: {e}")))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let mut cells = Vec::with_capacity(record.len());
        for field in record.iter() {
            let text = std::str::from_utf8(field).map_err(|_| {
                file_error(
                    name,
                    format!(
                        "row {line} is not UTF-8 text: save the file as \"CSV UTF-8\" \
                         (Excel: 另存为 → CSV UTF-8)"
                    ),
                )
            })?;
            cells.push(Cell {
                text: text.trim_start_matches('\u{feff}').trim().to_string(),
                rounded: false,
            });
        }
        if headers.is_none() {
            headers = Some(cells.into_iter().map(|c| c.text).collect());
        } else if cells.iter().any(|c| !c.text.is_empty()) {
            rows.push((line, cells));
        }
    }
    Ok(Table {
        source: name.to_string(),
        kind,
        headers: headers.unwrap_or_default(),
        rows,
    })
}

fn read_workbook(
    path: &Path,
    name: &str,
    file_kind: Option<Kind>,
) -> Result<Vec<Table>, FileError> {
    let mut book =
        open_workbook_auto(path).map_err(|e| file_error(name, format!("cannot read: {e}")))?;
    let sheets = book.sheet_names();
    let mut tables = vec![];
    for (i, sheet) in sheets.iter().enumerate() {
        // A sheet named for its kind; else, the first sheet of a file named for its kind.
        let kind = match Kind::named(sheet) {
            Some(k) => k,
            None if i == 0 && file_kind.is_some() => file_kind.unwrap_or(Kind::Areas),
            None => continue,
        };
        let range = book
            .worksheet_range(sheet)
            .map_err(|e| file_error(name, format!("cannot read sheet {sheet}: {e}")))?;
        let start = range.start().map_or(0, |(row, _)| row as usize);
        let mut headers = None;
        let mut rows = vec![];
        for (i, row) in range.rows().enumerate() {
            let cells: Vec<Cell> = row.iter().map(cell).collect();
            if headers.is_none() {
                if cells.iter().all(|c| c.text.is_empty()) {
                    continue;
                }
                headers = Some(cells.into_iter().map(|c| c.text).collect());
            } else if cells.iter().any(|c| !c.text.is_empty()) {
                rows.push((start + i + 1, cells));
            }
        }
        tables.push(Table {
            source: format!("{name}:{sheet}"),
            kind,
            headers: headers.unwrap_or_default(),
            rows,
        });
    }
    if tables.is_empty() {
        return Err(file_error(
            name,
            format!(
                "no sheet is named for a kind; name the sheets {}",
                Kind::names()
            ),
        ));
    }
    Ok(tables)
}

/// Integers a spreadsheet's floating-point numbers hold exactly.
const EXACT: f64 = 9_007_199_254_740_992.0;

fn cell(data: &Data) -> Cell {
    let text = match data {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < EXACT => format!("{}", *f as i64),
        Data::Float(f) if f.fract() == 0.0 => {
            return Cell {
                text: String::new(),
                rounded: true,
            };
        }
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => d
            .as_datetime()
            .map(|d| d.date().to_string())
            .unwrap_or_else(|| d.to_string()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(_) => String::new(),
    };
    Cell {
        text,
        rounded: false,
    }
}
