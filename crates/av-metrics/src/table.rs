//! Results tables rendered as Markdown, CSV or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::error::{MetricsError, Result};
use crate::stats::{MeanCi, normal_ci};

/// One table cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Cell {
    /// A number.
    Number(f64),
    /// A count.
    Count(usize),
    /// A mean with its confidence interval.
    Interval(MeanCi),
    /// Free text.
    Text(String),
    /// Nothing to show.
    Empty,
}

/// Alignment of the value columns in [`ResultsTable::to_markdown_aligned`] (the label column
/// is always left as written, `---`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Align {
    /// Right-aligned, `---:` (what [`ResultsTable::to_markdown`] writes).
    #[default]
    Right,
    /// Left-aligned, `:---`.
    Left,
    /// Centred, `:---:`.
    Center,
    /// No alignment marker, `---` (the renderer's default, left in practice).
    Unspecified,
}

impl Align {
    /// The Markdown delimiter-row cell of this alignment.
    pub fn rule(self) -> &'static str {
        match self {
            Align::Right => "---:",
            Align::Left => ":---",
            Align::Center => ":---:",
            Align::Unspecified => "---",
        }
    }
}

/// One row: a label and one cell per column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableRow {
    /// Row label (first column).
    pub label: String,
    /// Cells, one per entry of [`ResultsTable::columns`].
    pub cells: Vec<Cell>,
}

/// A table of results (method × metric, class × metric, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsTable {
    /// Header of the label column.
    pub label_header: String,
    /// Headers of the value columns.
    pub columns: Vec<String>,
    /// Rows.
    pub rows: Vec<TableRow>,
}

impl ResultsTable {
    /// An empty table with these headers.
    pub fn new(label_header: impl Into<String>, columns: Vec<String>) -> Self {
        Self { label_header: label_header.into(), columns, rows: Vec::new() }
    }

    /// Appends a row.
    ///
    /// # Errors
    /// [`MetricsError::ShapeMismatch`] when `cells.len()` differs from the column count.
    pub fn push_row(&mut self, label: impl Into<String>, cells: Vec<Cell>) -> Result<()> {
        if cells.len() != self.columns.len() {
            return Err(MetricsError::ShapeMismatch {
                op: "ResultsTable::push_row",
                expected: format!("{} cells", self.columns.len()),
                actual: format!("{} cells", cells.len()),
            });
        }
        self.rows.push(TableRow { label: label.into(), cells });
        Ok(())
    }

    /// GitHub-flavoured Markdown with `precision` decimals; intervals as `m ± h` when
    /// symmetric, `m [lo, hi]` otherwise; value columns right-aligned (`---:`).
    ///
    /// Cells that need another precision or a compound form (`a / b`) are given as
    /// [`Cell::Text`], which is written as it is.
    pub fn to_markdown(&self, precision: usize) -> String {
        self.to_markdown_aligned(precision, Align::Right)
    }

    /// [`Self::to_markdown`] with the value columns aligned by `align` (`|` in headers and
    /// cells is escaped as `\|`).
    pub fn to_markdown_aligned(&self, precision: usize, align: Align) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = String::new();
        let header: Vec<String> =
            std::iter::once(esc(&self.label_header)).chain(self.columns.iter().map(|c| esc(c))).collect();
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let rule: Vec<&str> =
            std::iter::once("---").chain(self.columns.iter().map(|_| align.rule())).collect();
        let _ = writeln!(out, "|{}|", rule.join("|"));
        for row in &self.rows {
            let cells: Vec<String> = std::iter::once(esc(&row.label))
                .chain(row.cells.iter().map(|c| esc(&render(c, precision))))
                .collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out
    }

    /// CSV (RFC 4180 quoting) with `precision` decimals; an interval column `c` becomes three
    /// columns `c`, `c_lower`, `c_upper` when any row holds an interval there.
    pub fn to_csv(&self, precision: usize) -> String {
        let interval_col: Vec<bool> = (0..self.columns.len())
            .map(|j| self.rows.iter().any(|r| matches!(r.cells.get(j), Some(Cell::Interval(_)))))
            .collect();
        let mut header = vec![csv_field(&self.label_header)];
        for (c, &iv) in self.columns.iter().zip(&interval_col) {
            header.push(csv_field(c));
            if iv {
                header.push(csv_field(&format!("{c}_lower")));
                header.push(csv_field(&format!("{c}_upper")));
            }
        }
        let mut out = header.join(",") + "\n";
        for row in &self.rows {
            let mut fields = vec![csv_field(&row.label)];
            for (cell, &iv) in row.cells.iter().zip(&interval_col) {
                match (cell, iv) {
                    (Cell::Interval(ci), _) => {
                        fields.push(format!("{:.precision$}", ci.mean));
                        fields.push(format!("{:.precision$}", ci.lower));
                        fields.push(format!("{:.precision$}", ci.upper));
                    }
                    (other, true) => {
                        fields.push(csv_field(&render(other, precision)));
                        fields.push(String::new());
                        fields.push(String::new());
                    }
                    (other, false) => fields.push(csv_field(&render(other, precision))),
                }
            }
            out += &fields.join(",");
            out.push('\n');
        }
        out
    }

    /// Pretty-printed JSON of the whole table.
    ///
    /// # Errors
    /// [`MetricsError::Json`] when serialisation fails (a non-finite number is written as
    /// `null` by serde_json, so this does not happen for finite tables).
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| MetricsError::Json(e.to_string()))
    }
}

fn render(cell: &Cell, precision: usize) -> String {
    match cell {
        Cell::Number(v) => format!("{v:.precision$}"),
        Cell::Count(n) => n.to_string(),
        Cell::Interval(ci) => {
            let (lo, hi) = (ci.mean - ci.lower, ci.upper - ci.mean);
            let scale = 10f64.powi(precision as i32);
            if ((lo - hi) * scale).abs() < 0.5 {
                format!("{:.precision$} ± {:.precision$}", ci.mean, hi)
            } else {
                format!("{:.precision$} [{:.precision$}, {:.precision$}]", ci.mean, ci.lower, ci.upper)
            }
        }
        Cell::Text(s) => s.clone(),
        Cell::Empty => String::new(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// A per-class table of one metric: columns `n` and `<metric> (mean ± CI)` (normal
/// approximation at `level`), one row per class present in `items`, in class order.
///
/// `items` are `(class index, value)` pairs (for example every `(class, cIoU_c)` of
/// [`crate::class_aware::FrameScore::per_class`]); `class_names[c]` labels class `c`
/// (the index is used when the name is missing).
///
/// # Errors
/// [`MetricsError::Empty`] without items, and the errors of [`normal_ci`].
pub fn per_class_table(
    metric: &str,
    class_names: &[&str],
    items: &[(usize, f64)],
    level: f64,
) -> Result<ResultsTable> {
    if items.is_empty() {
        return Err(MetricsError::Empty { op: "per_class_table", what: "items" });
    }
    let mut groups: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for &(c, v) in items {
        groups.entry(c).or_default().push(v);
    }
    let mut table =
        ResultsTable::new("class", vec!["n".into(), format!("{metric} (mean, {:.0}% CI)", level * 100.0)]);
    for (c, values) in groups {
        let label = class_names.get(c).map_or_else(|| c.to_string(), |s| (*s).to_string());
        let ci = normal_ci(&values, level)?;
        table.push_row(label, vec![Cell::Count(values.len()), Cell::Interval(ci)])?;
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ResultsTable {
        let mut t = ResultsTable::new("method", vec!["cIoU@0.5".into(), "AUC".into()]);
        t.push_row("whole image", vec![Cell::Number(0.608), Cell::Number(0.5)]).expect("row");
        t.push_row(
            "ours, a|b",
            vec![
                Cell::Interval(MeanCi { mean: 0.5, lower: 0.4, upper: 0.6, std: 0.1, n: 10, level: 0.95 }),
                Cell::Empty,
            ],
        )
        .expect("row");
        t
    }

    #[test]
    fn markdown_csv_json() {
        let t = sample();
        assert_eq!(
            t.to_markdown(3),
            "| method | cIoU@0.5 | AUC |\n|---|---:|---:|\n| whole image | 0.608 | 0.500 |\n| ours, a\\|b | 0.500 ± 0.100 |  |\n"
        );
        assert_eq!(
            t.to_csv(2),
            "method,cIoU@0.5,cIoU@0.5_lower,cIoU@0.5_upper,AUC\nwhole image,0.61,,,0.50\n\"ours, a|b\",0.50,0.40,0.60,\n"
        );
        let back: ResultsTable = serde_json::from_str(&t.to_json().expect("json")).expect("parse");
        assert_eq!(back, t);
        let mut bad = sample();
        assert!(bad.push_row("x", vec![Cell::Empty]).is_err());
    }

    #[test]
    fn markdown_alignment() {
        let t = sample();
        assert_eq!(t.to_markdown_aligned(3, Align::Right), t.to_markdown(3));
        assert_eq!(Align::default(), Align::Right);
        let body = "| whole image | 0.61 | 0.50 |\n| ours, a\\|b | 0.50 ± 0.10 |  |\n";
        for (align, rule) in [
            (Align::Right, "|---|---:|---:|"),
            (Align::Left, "|---|:---|:---|"),
            (Align::Center, "|---|:---:|:---:|"),
            (Align::Unspecified, "|---|---|---|"),
        ] {
            assert_eq!(
                t.to_markdown_aligned(2, align),
                format!("| method | cIoU@0.5 | AUC |\n{rule}\n{body}")
            );
        }
        let mut text = ResultsTable::new("m", vec!["a / b".into(), "n".into()]);
        text.push_row("x", vec![Cell::Text("0.10 / n/a".into()), Cell::Count(3)]).expect("row");
        assert_eq!(
            text.to_markdown_aligned(0, Align::Unspecified),
            "| m | a / b | n |\n|---|---|---|\n| x | 0.10 / n/a | 3 |\n"
        );
        let back: Align =
            serde_json::from_str(&serde_json::to_string(&Align::Center).expect("json")).expect("parse");
        assert_eq!(back, Align::Center);
    }

    #[test]
    fn per_class() {
        let t =
            per_class_table("cIoU", &["guitar", "piano"], &[(1, 0.5), (0, 0.2), (1, 0.7), (4, 0.1)], 0.95)
                .expect("table");
        let labels: Vec<&str> = t.rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(labels, vec!["guitar", "piano", "4"]);
        assert_eq!(t.rows[1].cells[0], Cell::Count(2));
        match &t.rows[1].cells[1] {
            Cell::Interval(ci) => assert!((ci.mean - 0.6).abs() < 1e-12),
            other => panic!("{other:?}"),
        }
        assert!(per_class_table("cIoU", &[], &[], 0.95).is_err());
    }
}
