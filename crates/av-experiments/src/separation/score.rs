//! Separating the test mixtures with a trained variant, BSS-Eval scores and the rows of Table 3.

use av_metrics::table::TableRow;
use av_metrics::{Align, Cell, ResultsTable};
use av_separation::{
    GuidanceKind, GuidedSeparator, MixExample, MixOrigin, Mixer, SeparationNetConfig, SeparationReport,
    SourceGuidance, evaluate, guidance_for, separate_inputs,
};
use burn::tensor::Device;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use av_align::Result;

use super::data::TestItem;
use super::train::RunState;
use super::{PAPER_TABLE3, TrainingSet};

/// Estimates and predicted masks of one variant on the test mixtures.
#[derive(Debug, Clone)]
pub struct VariantOutput {
    /// Per mixture, one waveform per source (65 280 samples).
    pub estimates: Vec<Vec<Vec<f32>>>,
    /// Per mixture, one predicted mask per source on the warped grid (before binarisation).
    pub masks: Vec<Vec<Array2<f32>>>,
}

/// Separates the test mixtures with one variant (`model` for vector variants; Grad-CAM needs
/// none), 8 mixtures per pass.
///
/// # Errors
/// As [`guidance_for`] and `av_separation::separate_inputs`.
pub fn separate_test(
    kind: GuidanceKind,
    model: Option<&GuidedSeparator>,
    test: &[TestItem],
    mixer: &Mixer,
    device: &Device,
) -> Result<VariantOutput> {
    let fallback_net;
    let (net, projection) = match model {
        Some(m) => (&m.net, Some(&m.projection)),
        None => {
            // The mask is used directly: the network is never run (any network will do).
            fallback_net = SeparationNetConfig::compact().with_ngf(1).with_channels(1).init(device)?;
            (&fallback_net, None)
        }
    };
    let mut out = VariantOutput { estimates: Vec::new(), masks: Vec::new() };
    for chunk in test.chunks(8) {
        let sources = chunk[0].guidance.len();
        let guidance = (0..sources)
            .map(|n| {
                let g: Vec<&SourceGuidance> = chunk.iter().map(|c| &c.guidance[n]).collect();
                Ok(guidance_for(kind, &g, projection, device)?)
            })
            .collect::<Result<Vec<_>>>()?;
        let inputs: Vec<&av_separation::MixtureInput> = chunk.iter().map(|c| &c.example.input).collect();
        for sep in separate_inputs(net, mixer, &inputs, &guidance, device)? {
            out.estimates.push(sep.sources);
            out.masks.push(sep.masks);
        }
    }
    Ok(out)
}

/// Scores precomputed estimates with the SoP protocol.
///
/// # Errors
/// As `av_separation::evaluate`.
pub fn score(
    mixer: &Mixer,
    method: &str,
    test: &[TestItem],
    estimates: &[Vec<Vec<f32>>],
) -> Result<SeparationReport> {
    let origins: Vec<MixOrigin> = test.iter().map(|t| t.origin.clone()).collect();
    let examples: Vec<MixExample> = test.iter().map(|t| t.example.clone()).collect();
    let mut next = 0;
    Ok(evaluate(mixer, method, &origins, &examples, |_| {
        let e = estimates
            .get(next)
            .cloned()
            .ok_or(av_separation::SeparationError::Empty { op: "score", what: "estimate list" })?;
        next += 1;
        Ok(e)
    })?)
}

/// One row of the measured table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table3Row {
    /// Method name.
    pub method: String,
    /// The guidance variant (`None` for the mixture and the ideal-mask rows).
    pub kind: Option<GuidanceKind>,
    /// Training set (`None` when nothing is trained).
    pub training: Option<TrainingSet>,
    /// Mean SDR (dB).
    pub sdr: f64,
    /// Mean SIR (dB).
    pub sir: f64,
    /// Mean SAR (dB).
    pub sar: f64,
    /// Mean SDR of the mixture on the same mixtures (dB).
    pub sdr_mix: f64,
    /// `sdr − sdr_mix`.
    pub nsdr: f64,
    /// Mixtures scored.
    pub evaluated: usize,
    /// Mixtures skipped as silent.
    pub skipped: usize,
    /// Training steps and seconds (0 when not trained).
    pub train_steps: usize,
    /// Training seconds (summed over resumed processes).
    pub train_seconds: f64,
    /// Mean training loss of the last epoch.
    pub final_loss: Option<f32>,
}

impl Table3Row {
    pub(super) fn from_report(
        r: &SeparationReport,
        kind: Option<GuidanceKind>,
        training: Option<TrainingSet>,
        state: Option<&RunState>,
    ) -> Self {
        Self {
            method: r.method.clone(),
            kind,
            training,
            sdr: r.sdr,
            sir: r.sir,
            sar: r.sar,
            sdr_mix: r.sdr_mix,
            nsdr: r.nsdr,
            evaluated: r.evaluated,
            skipped: r.skipped.len(),
            train_steps: state.map_or(0, |s| s.step),
            train_seconds: state.map_or(0.0, |s| s.seconds),
            final_loss: state.and_then(|s| s.epoch_losses.last().copied()),
        }
    }
}

pub(super) fn cell(v: f64) -> String {
    if v.is_finite() { format!("{v:.2}") } else { "n/a".into() }
}

/// Table 3: our SDR / SIR / SAR beside the paper's for each of its rows, every cell as text
/// (`sdr / sir / sar` with 2 decimals, `n/a` when not finite, `–` when missing; how many
/// mixtures were scored when some were skipped as silent).
pub fn table3(rows: &[Table3Row]) -> ResultsTable {
    let find = |kind: Option<GuidanceKind>, training: Option<TrainingSet>, method: Option<&str>| {
        rows.iter().find(|r| {
            r.kind == kind
                && (r.training == training || r.training.is_none())
                && method.is_none_or(|m| r.method == m)
        })
    };
    let ours = |r: Option<&Table3Row>| {
        Cell::Text(match r {
            Some(r) if r.skipped > 0 => format!(
                "{} / {} / {} ({} of {} scored)",
                cell(r.sdr),
                cell(r.sir),
                cell(r.sar),
                r.evaluated,
                r.evaluated + r.skipped
            ),
            Some(r) => format!("{} / {} / {}", cell(r.sdr), cell(r.sir), cell(r.sar)),
            None => "–".into(),
        })
    };
    let paper = |name: &str, set: TrainingSet| {
        Cell::Text(PAPER_TABLE3.iter().find(|(n, _, _)| *n == name).map_or("–".into(), |(_, s, m)| {
            let v = if set == TrainingSet::SingleSource { s } else { m };
            format!("{:.2} / {:.2} / {:.2}", v[0], v[1], v[2])
        }))
    };
    let none = || Cell::Text("–".into());
    let columns =
        ["single-source: ours SDR / SIR / SAR", "paper", "multi-source: ours SDR / SIR / SAR", "paper"];
    let mut table = ResultsTable::new("method", columns.map(String::from).to_vec());
    // Every row below has one cell per column by construction.
    let mut push =
        |label: String, cells: [Cell; 4]| table.rows.push(TableRow { label, cells: cells.to_vec() });
    for (name, _, _) in PAPER_TABLE3.iter().take(5).filter(|(n, _, _)| *n != "Sound-of-Pixels") {
        push(
            format!("{name} (paper only)"),
            [none(), paper(name, TrainingSet::SingleSource), none(), paper(name, TrainingSet::MultiSource)],
        );
    }
    for kind in GuidanceKind::ALL {
        let s = find(Some(kind), Some(TrainingSet::SingleSource), None);
        let m = find(Some(kind), Some(TrainingSet::MultiSource), None);
        push(
            kind.name().to_string(),
            [
                ours(s),
                paper(kind.paper_row(), TrainingSet::SingleSource),
                ours(m),
                paper(kind.paper_row(), TrainingSet::MultiSource),
            ],
        );
    }
    for name in ["Mixture (no separation)", "Ideal binary masks (upper bound)"] {
        let r = find(None, None, Some(name));
        push(name.to_string(), [ours(r), none(), ours(r), none()]);
    }
    table
}

/// [`table3`] as Markdown (no column alignment markers).
pub fn markdown_table3(rows: &[Table3Row]) -> String {
    table3(rows).to_markdown_aligned(2, Align::Unspecified)
}

#[cfg(test)]
mod table_tests {
    use super::*;

    fn row(
        method: &str,
        kind: Option<GuidanceKind>,
        training: Option<TrainingSet>,
        v: [f64; 3],
        evaluated: usize,
        skipped: usize,
    ) -> Table3Row {
        Table3Row {
            method: method.into(),
            kind,
            training,
            sdr: v[0],
            sir: v[1],
            sar: v[2],
            sdr_mix: 0.0,
            nsdr: 0.0,
            evaluated,
            skipped,
            train_steps: 0,
            train_seconds: 0.0,
            final_loss: None,
        }
    }

    /// Pins the text of [`markdown_table3`] byte for byte.
    #[test]
    fn markdown_table3_text() {
        let (s, m) = (Some(TrainingSet::SingleSource), Some(TrainingSet::MultiSource));
        let rows = vec![
            row("Mixture (no separation)", None, None, [0.0, 0.0, f64::INFINITY], 10, 0),
            row("Ideal binary masks (upper bound)", None, None, [10.125, 20.005, -3.5], 8, 2),
            row("Grad-CAM", Some(GuidanceKind::GradCam), s, [-2.0, 0.004, 7.1], 10, 0),
            row("Grad-CAM", Some(GuidanceKind::GradCam), m, [-2.0, 0.004, 7.1], 10, 0),
            row("Audio (single)", Some(GuidanceKind::Audio), s, [f64::NAN, 1.0, 2.0], 9, 1),
        ];
        assert_eq!(
            markdown_table3(&rows),
            concat!(
                "| method | single-source: ours SDR / SIR / SAR | paper | multi-source: ours SDR / SIR / SAR | paper |\n",
                "|---|---|---|---|---|\n",
                "| NMF-MFCC (paper only) | – | 0.92 / 5.68 / 5.84 | – | 0.92 / 5.68 / 5.84 |\n",
                "| AV-Mix-Sep (paper only) | – | 3.16 / 6.74 / 8.89 | – | 3.23 / 7.01 / 9.14 |\n",
                "| Co-Separation (paper only) | – | 7.38 / 13.70 / 10.80 | – | 7.64 / 13.80 / 11.30 |\n",
                "| CAVL (paper only) | – | 6.59 / 10.10 / 12.56 | – | 6.78 / 10.62 / 12.19 |\n",
                "| Sound-of-Pixels (whole-frame vector) | – | 7.30 / 11.90 / 11.90 | – | 6.05 / 9.81 / 12.40 |\n",
                "| Ours Grad-CAM | -2.00 / 0.00 / 7.10 | -2.78 / -0.01 / 7.79 | -2.00 / 0.00 / 7.10 | -2.49 / 0.08 / 8.34 |\n",
                "| Ours Audio | n/a / 1.00 / 2.00 (9 of 10 scored) | -1.16 / 0.33 / 11.11 | – | -0.97 / 0.43 / 11.02 |\n",
                "| Ours Visual | – | 6.53 / 12.15 / 11.31 | – | 6.57 / 11.90 / 10.78 |\n",
                "| Mixture (no separation) | 0.00 / 0.00 / n/a | – | 0.00 / 0.00 / n/a | – |\n",
                "| Ideal binary masks (upper bound) | 10.12 / 20.00 / -3.50 (8 of 10 scored) | – | 10.12 / 20.00 / -3.50 (8 of 10 scored) | – |\n",
            )
        );
        let table = table3(&rows);
        assert!(table.rows.iter().all(|r| r.cells.len() == table.columns.len()));
        assert_eq!(
            table.to_csv(2).lines().nth(7),
            Some("Ours Audio,n/a / 1.00 / 2.00 (9 of 10 scored),-1.16 / 0.33 / 11.11,–,-0.97 / 0.43 / 11.02")
        );
        assert_eq!(
            markdown_table3(&[]),
            concat!(
                "| method | single-source: ours SDR / SIR / SAR | paper | multi-source: ours SDR / SIR / SAR | paper |\n",
                "|---|---|---|---|---|\n",
                "| NMF-MFCC (paper only) | – | 0.92 / 5.68 / 5.84 | – | 0.92 / 5.68 / 5.84 |\n",
                "| AV-Mix-Sep (paper only) | – | 3.16 / 6.74 / 8.89 | – | 3.23 / 7.01 / 9.14 |\n",
                "| Co-Separation (paper only) | – | 7.38 / 13.70 / 10.80 | – | 7.64 / 13.80 / 11.30 |\n",
                "| CAVL (paper only) | – | 6.59 / 10.10 / 12.56 | – | 6.78 / 10.62 / 12.19 |\n",
                "| Sound-of-Pixels (whole-frame vector) | – | 7.30 / 11.90 / 11.90 | – | 6.05 / 9.81 / 12.40 |\n",
                "| Ours Grad-CAM | – | -2.78 / -0.01 / 7.79 | – | -2.49 / 0.08 / 8.34 |\n",
                "| Ours Audio | – | -1.16 / 0.33 / 11.11 | – | -0.97 / 0.43 / 11.02 |\n",
                "| Ours Visual | – | 6.53 / 12.15 / 11.31 | – | 6.57 / 11.90 / 10.78 |\n",
                "| Mixture (no separation) | – | – | – | – |\n",
                "| Ideal binary masks (upper bound) | – | – | – | – |\n",
            )
        );
    }
}
