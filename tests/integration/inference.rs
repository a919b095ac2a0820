//! One-call inference over the shipped model folder: [`Localizer`] (named per-class maps at the
//! image's size) and [`Separator`] (the sound of a chosen object).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use av_align::data::bench::{AssetPack, BenchConfig, Generator};
use av_align::inference::{Separator, SourceChoice};
use av_align::{Error, Localizer};
use av_testkit::tmp_dir as tmp;
use burn::tensor::Device;

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/checkpoints/flickr_compact")
}

/// A benchmark test scene written as an image file and a WAV file.
fn scene_files(dir: &Path) -> (av_align::data::bench::Scene, PathBuf, PathBuf) {
    let generator =
        Generator::new(Arc::new(AssetPack::load_default().unwrap()), BenchConfig::localization(21)).unwrap();
    let scene = generator.scene(av_align::data::Split::Test, 0).unwrap();
    let image = dir.join("frame.png");
    scene.image.save(&image).unwrap();
    let audio = dir.join("mix.wav");
    av_align::audio::write_wav_f32(
        &audio,
        &av_align::audio::Audio { samples: scene.audio.mix.clone(), sample_rate: scene.audio.sample_rate },
    )
    .unwrap();
    (scene, image, audio)
}

/// Files and in-memory input give the same maps, at the image's own size, with named classes.
#[test]
fn localizer_gives_named_maps_at_the_image_size() {
    let device = Device::flex();
    let dir = tmp("localize");
    let (scene, image, audio) = scene_files(&dir);
    let localizer = Localizer::from_dir_on(shipped(), &device).unwrap();
    let from_files = localizer.localize_files(&image, &audio).unwrap();
    let (w, h) = scene.image.dimensions();
    assert_eq!((from_files.width, from_files.height), (w, h));
    assert_eq!(from_files.agnostic.len(), (w * h) as usize);
    assert_eq!(from_files.classes.len(), 15);
    assert!(from_files.classes.iter().all(|c| c.map.len() == (w * h) as usize));
    assert!(from_files.agnostic.iter().all(|v| (0.0..=1.0).contains(v)));
    let names = av_align::data::Vocabulary::AudioSet15.names();
    assert!(from_files.classes.iter().zip(&names).all(|(c, n)| c.name == *n));
    let in_memory = localizer.localize(&scene.image, &scene.audio.mix, scene.audio.sample_rate).unwrap();
    assert_eq!(in_memory, from_files);
    let ranked = from_files.ranked();
    assert!(ranked.windows(2).all(|p| p[0].audio_prob >= p[1].audio_prob));
    let picture = from_files.overlay(&scene.image).unwrap();
    assert_eq!(picture.dimensions(), (w, h));
    assert!(from_files.class_overlay(&scene.image, "kazoo").is_err());
    std::fs::remove_dir_all(&dir).ok();
}

/// The map source a folder's `inputs.json` names (`"maps"`) is what the Localizer draws: a copy
/// of the compact folder with `"maps": "AlignmentCentred"` gives the maps of
/// `with_config(source = AlignmentCentred)` and not those of Eq. 8; without the field, Eq. 8.
/// The same for `"combine"`.
#[test]
fn the_folder_chooses_the_localizer_map_source() {
    use av_align::model::{ClassCombine, LocalizeConfig, MapSource};
    let device = Device::flex();
    let dir = tmp("maps-source");
    let (scene, _, _) = scene_files(&dir);
    let folder = dir.join("model");
    std::fs::create_dir_all(&folder).unwrap();
    for f in ["model.bpk", "model.json", "inputs.json"] {
        std::fs::copy(shipped().join(f), folder.join(f)).unwrap();
    }
    let plain = Localizer::from_dir_on(&folder, &device).unwrap();
    assert_eq!(plain.inputs().maps, MapSource::Alignment);
    let mut spec = plain.inputs().clone();
    spec.maps = MapSource::AlignmentCentred;
    spec.save(&folder).unwrap();
    let centred = Localizer::from_dir_on(&folder, &device).unwrap();
    let run = |l: &Localizer| l.localize(&scene.image, &scene.audio.mix, scene.audio.sample_rate).unwrap();
    let by_folder = run(&centred);
    let explicit = |source| {
        run(&Localizer::from_dir_on(&folder, &device)
            .unwrap()
            .with_config(LocalizeConfig { source, ..LocalizeConfig::default() }))
    };
    assert_eq!(by_folder, explicit(MapSource::AlignmentCentred));
    assert_ne!(by_folder.agnostic, explicit(MapSource::Alignment).agnostic);
    assert_eq!(run(&plain), explicit(MapSource::Alignment));
    // `"combine"` likewise: the folder's combination is the Localizer's.
    assert_eq!(plain.config().combine, ClassCombine::WeightedMean);
    spec.combine = ClassCombine::PeakMax;
    spec.save(&folder).unwrap();
    let peak = Localizer::from_dir_on(&folder, &device).unwrap();
    assert_eq!(
        *peak.config(),
        LocalizeConfig {
            source: MapSource::AlignmentCentred,
            combine: ClassCombine::PeakMax,
            ..LocalizeConfig::default()
        }
    );
    let explicit_peak = Localizer::from_dir_on(&folder, &device).unwrap().with_config(LocalizeConfig {
        source: MapSource::AlignmentCentred,
        combine: ClassCombine::PeakMax,
        ..LocalizeConfig::default()
    });
    assert_eq!(run(&peak), run(&explicit_peak));
    std::fs::remove_dir_all(&dir).ok();
}

/// A model folder without `inputs.json` is refused with a typed error naming the file.
#[test]
fn a_folder_without_inputs_json_is_refused() {
    let dir = tmp("no-inputs");
    for f in ["model.bpk", "model.json"] {
        std::fs::copy(shipped().join(f), dir.join(f)).unwrap();
    }
    let err = Localizer::from_dir_on(&dir, &Device::flex()).unwrap_err();
    assert!(matches!(err, Error::Checkpoint { .. }) && err.to_string().contains("inputs.json"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// One's own image + mixture: the source chosen by class or by a point, written as audio of the
/// separation format; unknown classes and points outside the image are refused by name.
#[test]
fn own_image_and_mixture_separate_by_class_or_point() {
    let device = Device::flex();
    let dir = tmp("separate");
    let (scene, image, audio) = scene_files(&dir);
    let separator = Separator::new(Localizer::from_dir_on(shipped(), &device).unwrap()).unwrap();
    let playing = scene.sounding().next().unwrap();
    let name = av_align::data::Vocabulary::AudioSet15.name(playing.class).unwrap();
    let by_class =
        separator.separate_files(&image, &audio, &[SourceChoice::Class(name.to_string())]).unwrap();
    let source = &by_class.sources[0];
    assert_eq!(source.class, Some(playing.class));
    assert_eq!(source.samples.len(), 65_535);
    assert!(source.samples.iter().all(|v| v.is_finite()));
    let energy = |x: &[f32]| x.iter().map(|v| v * v).sum::<f32>();
    assert!(energy(&source.samples) <= energy(&by_class.mixture) * 1.01);
    let (cx, cy) = ((playing.bbox.x0 + playing.bbox.x1) / 2.0, (playing.bbox.y0 + playing.bbox.y1) / 2.0);
    let by_point =
        separator.separate_files(&image, &audio, &[SourceChoice::Point(cx as u32, cy as u32)]).unwrap();
    assert!(by_point.sources[0].class.is_some_and(|c| c < 15));
    assert!(separator.separate_files(&image, &audio, &[SourceChoice::Class("kazoo".into())]).is_err());
    assert!(separator.separate_files(&image, &audio, &[SourceChoice::Point(9999, 1)]).is_err());
    let written = by_class.write_wavs(dir.join("out")).unwrap();
    assert_eq!(written.len(), 2);
    assert!(written.iter().all(|p| p.is_file()));
    std::fs::remove_dir_all(&dir).ok();
}

/// A trained class-conditioned model does the separating when given: any class it knows can be
/// named (also one the guide does not know), a point goes through the guide's classes, and a
/// folder whose class list does not fit the network is refused.
#[test]
fn a_separation_model_extracts_the_chosen_class() {
    use av_align::inference::{CLASSES_FILE, SeparationMethod, SeparationModel};
    use av_align::separation::{MaskKind, SeparationNetConfig};
    let device = Device::flex();
    let dir = tmp("separate-model");
    let (_, image, audio) = scene_files(&dir);
    let model_dir = dir.join("model");
    let config = SeparationNetConfig::compact().with_ngf(4).with_channels(12).with_mask(MaskKind::Ratio);
    let net = config.init(&device).unwrap();
    av_align::backbones::checkpoint::save_checkpoint(&net, &config, &model_dir, "model").unwrap();
    let names = av_align::data::Vocabulary::Music11.names();
    std::fs::write(model_dir.join(CLASSES_FILE), serde_json::to_string(&names).unwrap()).unwrap();
    let model = SeparationModel::from_dir_on(&model_dir, &device).unwrap();
    assert_eq!(model.class_index("Tuba"), names.iter().position(|n| *n == "tuba"));
    assert_eq!(model.class_index("Guitar"), names.iter().position(|n| *n == "acoustic_guitar"));
    let separator =
        Separator::new(Localizer::from_dir_on(shipped(), &device).unwrap()).unwrap().with_model(model);
    // "tuba" is not in the guide's AudioSet-15 vocabulary, only in the model's.
    let out = separator.separate_files(&image, &audio, &[SourceChoice::Class("tuba".into())]).unwrap();
    let source = &out.sources[0];
    assert_eq!((source.class, source.method), (None, SeparationMethod::ClassConditioned));
    assert_eq!((source.name.as_str(), source.samples.len()), ("tuba", 65_535));
    assert_eq!(source.mask.dim(), (256, 256));
    assert!(source.samples.iter().any(|&v| v != 0.0));
    // A guide class the model does not know is refused by name.
    let err = separator.separate_files(&image, &audio, &[SourceChoice::Class("drum".into())]).unwrap_err();
    assert!(err.to_string().to_lowercase().contains("does not know 'drum'"), "{err}");
    // More names than guidance channels.
    let too_many: Vec<String> = (0..13).map(|i| format!("c{i}")).collect();
    std::fs::write(model_dir.join(CLASSES_FILE), serde_json::to_string(&too_many).unwrap()).unwrap();
    assert!(matches!(SeparationModel::from_dir_on(&model_dir, &device), Err(Error::Config(_))));
    std::fs::remove_dir_all(&dir).ok();
}

/// The message chain a command line prints (`{:#}` of anyhow: each error, then its sources).
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ")
}

/// A missing file is named once, with its reason once (not "No such file ...: No such file ..."),
/// whether the image or the audio is missing.
#[test]
fn a_missing_file_is_reported_once() {
    let dir = tmp("missing");
    let (_, image, audio) = scene_files(&dir);
    let localizer = Localizer::from_dir_on(shipped(), &Device::flex()).unwrap();
    for (img, aud) in [(dir.join("nope.png"), audio.clone()), (image.clone(), dir.join("nope.wav"))] {
        let err = localizer.localize_files(&img, &aud).unwrap_err();
        let text = chain(&err);
        let missing = if img.is_file() { aud } else { img };
        assert_eq!(text.matches(&*missing.to_string_lossy()).count(), 1, "{text}");
        assert!(text.matches("os error").count() <= 1, "{text}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A source that would come out all zeros is an error that says why, never a silent file.
#[test]
fn a_silent_separation_is_an_error_that_says_why() {
    let dir = tmp("silent");
    let (scene, _, _) = scene_files(&dir);
    let separator = Separator::new(Localizer::from_dir_on(shipped(), &Device::flex()).unwrap()).unwrap();
    let silence = vec![0.0f32; 5 * 22_050];
    let err = separator
        .separate(&scene.image, &silence, 22_050, &[SourceChoice::Class("Violin".into())])
        .unwrap_err();
    assert!(matches!(err, Error::SilentSource { .. }), "{err}");
    assert!(err.to_string().contains("Violin") && err.to_string().contains("silent"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
