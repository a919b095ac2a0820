//! Scoring a model on benchmark scenes with the trivial baselines, and the Markdown of Table 1.

use av_metrics::table::TableRow;
use av_metrics::{Align, Cell, LocalizationSummary, PredictionRule, ResultsTable};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use av_align::Result;

use crate::bench::BenchData;
use crate::eval::{FlickrReport, SceneMaps, flickr_evaluate, localize_all};
use av_align::model::{AvModel, LocalizeConfig, MapSource};

/// Scores of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Which maps.
    pub source: MapSource,
    /// Number of scenes.
    pub scenes: usize,
    /// cIoU / AUC of the model and the baselines.
    pub flickr: FlickrReport,
}

/// Localizes benchmark test scenes `0..scenes` with `model` and scores them.
///
/// # Errors
/// Data, model and metric errors.
pub fn evaluate_on_bench(
    model: &AvModel,
    data: &BenchData,
    source: MapSource,
    rule: PredictionRule,
    device: &Device,
) -> Result<(EvalReport, Vec<SceneMaps>)> {
    let cfg = LocalizeConfig { source, ..LocalizeConfig::default() };
    let maps = localize_all(model, data, &cfg, 16, device)?;
    let flickr = flickr_evaluate(&maps, &data.truths, rule)?;
    Ok((EvalReport { source, scenes: maps.len(), flickr }, maps))
}

/// The table of a Flickr-style evaluation: one row per `(method, report)`, the model's
/// cIoU@0.5 and AUC as numbers, each baseline's `cIoU@0.5 / AUC` pair as text (3 decimals).
pub fn flickr_table(rows: &[(&str, &FlickrReport)]) -> ResultsTable {
    let columns = ["cIoU@0.5", "AUC", "whole image cIoU@0.5 / AUC", "centre box cIoU@0.5 / AUC"];
    let mut table = ResultsTable::new("method", columns.map(String::from).to_vec());
    let pair = |s: &LocalizationSummary| Cell::Text(format!("{:.3} / {:.3}", s.success_rate, s.auc));
    for (name, r) in rows {
        // One cell per column by construction.
        table.rows.push(TableRow {
            label: (*name).to_string(),
            cells: vec![
                Cell::Number(r.model.success_rate),
                Cell::Number(r.model.auc),
                pair(&r.whole_image),
                pair(&r.center_box),
            ],
        });
    }
    table
}

/// [`flickr_table`] as Markdown (3 decimals, no column alignment markers).
pub fn markdown_table(rows: &[(&str, &FlickrReport)]) -> String {
    flickr_table(rows).to_markdown_aligned(3, Align::Unspecified)
}

/// The paper's Table 1 rows on SoundNet-Flickr (cIoU@0.5, AUC; docs/reference_implementation.md §12), for
/// reference beside ours. They are on real SoundNet-Flickr, ours on the offline benchmark: the
/// numbers are not comparable, the ordering against the baselines is.
pub const PAPER_TABLE1: [(&str, f64, f64); 6] = [
    ("Random", 0.072, 0.307),
    ("Attention 10K (Senocak et al.)", 0.436, 0.449),
    ("DMC AudioSet", 0.416, 0.452),
    ("CAVL AudioSet", 0.500, 0.492),
    ("Ours 10K (paper)", 0.522, 0.496),
    ("Ours 20K (paper)", 0.538, 0.506),
];

#[cfg(test)]
mod table_tests {
    use super::*;

    fn summary(success_rate: f64, auc: f64) -> LocalizationSummary {
        LocalizationSummary {
            cious: Vec::new(),
            success_threshold: 0.5,
            success_rate,
            auc,
            curve: Vec::new(),
        }
    }

    fn report(v: [f64; 6]) -> FlickrReport {
        FlickrReport {
            model: summary(v[0], v[1]),
            whole_image: summary(v[2], v[3]),
            center_box: summary(v[4], v[5]),
            rule: PredictionRule::Absolute(0.5),
        }
    }

    /// Pins the text of [`markdown_table`] (the main job's table) byte for byte.
    #[test]
    fn markdown_table_text() {
        let main = report([0.1405, 0.29849, 0.0, 0.2089, 0.09375, 0.28651]);
        let odd = report([1.0, f64::NAN, 0.0005, 0.0015, 0.9999, 2.0 / 3.0]);
        let rows =
            [("coarse-to-fine (Eq. 8), shipped compact checkpoint", &main), ("Visual maps, a/b.bpk", &odd)];
        assert_eq!(
            markdown_table(&rows),
            concat!(
                "| method | cIoU@0.5 | AUC | whole image cIoU@0.5 / AUC | centre box cIoU@0.5 / AUC |\n",
                "|---|---|---|---|---|\n",
                "| coarse-to-fine (Eq. 8), shipped compact checkpoint | 0.141 | 0.298 | 0.000 / 0.209 | 0.094 / 0.287 |\n",
                "| Visual maps, a/b.bpk | 1.000 | NaN | 0.001 / 0.002 | 1.000 / 0.667 |\n",
            )
        );
        let table = flickr_table(&rows);
        assert!(table.rows.iter().all(|r| r.cells.len() == table.columns.len()));
        assert_eq!(
            table.to_csv(3).lines().nth(1),
            Some(
                "\"coarse-to-fine (Eq. 8), shipped compact checkpoint\",0.141,0.298,0.000 / 0.209,0.094 / 0.287"
            )
        );
        assert_eq!(
            markdown_table(&[]),
            concat!(
                "| method | cIoU@0.5 | AUC | whole image cIoU@0.5 / AUC | centre box cIoU@0.5 / AUC |\n",
                "|---|---|---|---|---|\n",
            )
        );
    }
}
