//! A SoundNet-Flickr training set read from disk batch by batch: for training sets that do not
//! fit in memory (the full 144k-pair SoundNet-Flickr is about 37 GB as decoded frames and
//! log-mels). With the trainer's background prefetch, JPEG decoding, resizing, WAV decoding
//! and the log-mels of the next batches run while the device trains on the current one.

use std::path::Path;

use av_data::layouts::flickr::{FlickrPair, FlickrTrainLayout};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::preprocess::{AudioPreprocess, AudioWindow, model_frame};
use crate::train::{BatchSource, HostBatch, InMemoryDataset, Sample};

/// A training layout (docs/datasets.md §2.1) whose pairs are decoded when a batch asks for them,
/// in parallel over the pairs of the batch. Pairs without pseudo labels are left out when it is
/// opened; a pair that fails to decode later fails its batch with an error naming the file.
#[derive(Debug)]
pub struct StreamingFlickr {
    pairs: Vec<FlickrPair>,
    image_size: u32,
    num_classes: usize,
    audio: AudioPreprocess,
}

impl StreamingFlickr {
    /// Reads the layout under `root` (lists, labels, file checks; no decoding) for frames of
    /// `image_size` x `image_size` pixels and 5-s log-mels at 22 050 Hz (251 x 64).
    ///
    /// # Errors
    /// [`Error::Config`] for no labelled pair, labels of different lengths or an image size
    /// under 16; data errors for whole-file problems.
    pub fn open(root: &Path, image_size: u32) -> Result<(Self, av_data::LoadReport)> {
        if image_size < 16 {
            return Err(Error::Config(format!("image size {image_size} is under 16 pixels")));
        }
        let (set, report) = FlickrTrainLayout::new(root).load(av_data::SkipPolicy::Skip)?;
        let pairs: Vec<FlickrPair> = set.pairs.into_iter().filter(|p| p.labels.is_some()).collect();
        let num_classes = pairs.first().and_then(|p| p.labels.as_ref()).map_or(0, |l| l.audio.len());
        if num_classes == 0 {
            return Err(Error::Config(format!(
                "{}: no training pair with frame, audio and pseudo labels ({})",
                root.display(),
                report.summary()
            )));
        }
        if let Some(p) = pairs.iter().find(|p| {
            p.labels.as_ref().is_some_and(|l| l.audio.len() != num_classes || l.visual.len() != num_classes)
        }) {
            return Err(Error::Config(format!(
                "pair {}: pseudo labels of another length than the first pair's {num_classes}",
                p.id
            )));
        }
        let audio = AudioPreprocess::new(AudioWindow::FirstSeconds)?;
        Ok((Self { pairs, image_size, num_classes, audio }, report))
    }

    /// The pairs, in sample-index order.
    pub fn pairs(&self) -> &[FlickrPair] {
        &self.pairs
    }

    /// Decodes pair `i` into a sample.
    ///
    /// # Errors
    /// [`Error::Config`] for an index out of range; data and audio errors of its files.
    pub fn sample(&self, i: usize) -> Result<Sample> {
        let pair = self.pairs.get(i).ok_or_else(|| {
            Error::Config(format!("sample index {i} out of range ({} samples)", self.pairs.len()))
        })?;
        decode_pair(pair, self.image_size, &self.audio)
    }
}

impl BatchSource for StreamingFlickr {
    fn len(&self) -> usize {
        self.pairs.len()
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn host_batch(&self, indices: &[usize], flips: &[bool]) -> Result<HostBatch> {
        if indices.is_empty() {
            return Err(Error::Config("empty batch".into()));
        }
        let samples = indices.par_iter().map(|&i| self.sample(i)).collect::<Result<Vec<_>>>()?;
        HostBatch::from_samples(&samples.iter().collect::<Vec<_>>(), flips)
    }
}

/// One labelled training pair decoded through [`crate::preprocess`]: the frame brought to
/// `image_size` ([`model_frame`]), the log-mel of its first 5 s.
///
/// # Errors
/// [`Error::Config`] for a pair without labels; data and audio errors naming its files.
pub fn decode_pair(pair: &FlickrPair, image_size: u32, audio: &AudioPreprocess) -> Result<Sample> {
    let labels = pair
        .labels
        .as_ref()
        .ok_or_else(|| Error::Config(format!("pair {} has no pseudo labels", pair.id)))?;
    let frame = model_frame(&av_data::image_io::load_rgb(&pair.frame)?, image_size);
    let logmel = audio.logmel_of_file(&pair.audio)?;
    Ok(Sample { frame, logmel, labels_a: labels.audio.clone(), labels_v: labels.visual.clone() })
}

/// Loads a SoundNet-Flickr training set in the documented layout (docs/datasets.md §2.1):
/// frames resized to `image_size`, the first 5 s of audio at 22 050 Hz as log-mels, and the
/// soft pseudo labels (`pseudo_labels.json` or `labels_a.npy` + `labels_v.npy`), in parallel.
/// Items with problems are skipped and counted in the returned report. For training sets too
/// large for memory, [`StreamingFlickr`] decodes batch by batch instead.
///
/// # Errors
/// [`Error::Config`] when the layout has no pseudo labels or no usable pair; data and audio
/// errors for whole-file problems.
pub fn load_flickr_train(root: &Path, image_size: u32) -> Result<(InMemoryDataset, av_data::LoadReport)> {
    use av_data::layouts::flickr::FlickrTrainLayout;
    use rayon::prelude::*;
    let (set, report) = FlickrTrainLayout::new(root).load(av_data::SkipPolicy::Skip)?;
    let audio = AudioPreprocess::new(AudioWindow::FirstSeconds)?;
    let samples = set
        .pairs
        .par_iter()
        .filter(|pair| pair.labels.is_some())
        .filter_map(|pair| decode_pair(pair, image_size, &audio).ok())
        .collect::<Vec<_>>();
    if samples.is_empty() {
        return Err(Error::Config(format!(
            "{}: no training pair with frame, audio and pseudo labels ({})",
            root.display(),
            report.summary()
        )));
    }
    Ok((InMemoryDataset::new(samples)?, report))
}
