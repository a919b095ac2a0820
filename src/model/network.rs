//! The two-stream network and its forward passes (docs/reference_implementation.md §2.1-2.3, §2.6).

use av_alignment::{PoolNormalization, class_aware_pool};
use av_backbones::{
    AvcMlp, AvcMlpConfig, ClassifierHead, ClassifierHeadConfig, ProjectionHead, ProjectionHeadConfig, ResNet,
    global_avg_pool,
};
use av_gradcam::{GradCamConfig, grad_cam};
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use crate::error::{Error, Result};
use crate::model::config::{AvModelConfig, CamSource};
use crate::model::pretrained_visual::PretrainedVisual;

/// The coarse-to-fine audio-visual model. Field names follow MSSL `new/` (`stage_two.py`), so
/// a converted official checkpoint maps key to key.
#[derive(Module, Debug)]
pub struct AvModel {
    /// Visual trunk (ResNet-18, stride-1 `layer4`); `None` when the model has a
    /// [`PretrainedVisual`] stream instead.
    pub visual: Option<ResNet>,
    /// The frozen ImageNet trunk and its neck ([`AvModelConfig::pretrained_visual`]).
    pub pretrained_visual: Option<PretrainedVisual>,
    /// Audio trunk (ResNet-18 with a 1-channel stem).
    pub audio: ResNet,
    /// Visual classifier `class_v` (bias-free).
    pub class_v: ClassifierHead,
    /// Audio classifier `class_a` (bias-free).
    pub class_a: ClassifierHead,
    /// AVC MLP over all audio x visual pairs.
    pub avc: AvcMlp,
    /// Visual projection head (stage 2).
    pub project_v: ProjectionHead,
    /// Audio projection head (stage 2).
    pub project_a: ProjectionHead,
    /// Where the class maps come from.
    #[module(skip)]
    pub cam: CamSource,
    /// Pooling normalisation.
    #[module(skip)]
    pub pooling: PoolNormalization,
    /// Whether [`AvModel::visual_embedding_map`] centres the positions on the frame's mean.
    #[module(skip)]
    pub centre_visual_positions: bool,
}

impl AvModelConfig {
    /// Builds the model with PyTorch's default initialisation for every layer.
    ///
    /// # Errors
    /// [`Error::Config`] when [`AvModelConfig::validate`] fails.
    pub fn init(&self, device: &Device) -> Result<AvModel> {
        self.validate()?;
        let k = self.visual_channels();
        let projection = ProjectionHeadConfig::new()
            .with_d_input(k)
            .with_d_hidden(self.projection_hidden)
            .with_d_output(self.embedding_dim);
        Ok(AvModel {
            visual: self.pretrained_visual.is_none().then(|| self.visual.init(device)),
            pretrained_visual: self.pretrained_visual.as_ref().map(|p| p.init(k, device)),
            audio: self.audio.init(device),
            class_v: ClassifierHeadConfig::new(k, self.num_classes).init(device),
            class_a: ClassifierHeadConfig::new(k, self.num_classes).init(device),
            avc: AvcMlpConfig::new().with_d_feature(k).with_d_hidden(self.avc_hidden).init(device),
            project_v: projection.init(device),
            project_a: projection.init(device),
            cam: self.cam,
            pooling: self.pooling,
            centre_visual_positions: self.centre_visual_positions.unwrap_or(false),
        })
    }
}

impl AvModelConfig {
    /// [`AvModelConfig::init`], then, for a model with a pretrained visual stream, the ImageNet
    /// weights into its trunk (from [`crate::model::pretrained_weights_path`]): the start of a
    /// training run. A ResNet model is the same as `init`.
    ///
    /// # Errors
    /// As `init`; [`Error::Config`] naming the fetch script when the weights are not cached;
    /// [`Error::Backbone`] when the file does not hold the trunk.
    pub fn init_for_training(&self, device: &Device) -> Result<AvModel> {
        let mut model = self.init(device)?;
        if let Some(p) = model.pretrained_visual.take() {
            model.pretrained_visual = Some(p.load_trunk(&crate::model::pretrained_weights_path()?)?);
        }
        Ok(model)
    }
}

/// What one forward pass of both trunks gives.
#[derive(Debug, Clone)]
pub struct AvFeatures {
    /// Visual `layer4` map F_v, `[N, K, H/16, W/16]`.
    pub f_v: Tensor<4>,
    /// Audio `layer4` map F_a, `[N, K, T/16, F/16]` (rounded up).
    pub f_a: Tensor<4>,
    /// Global-average-pooled F_v, `[N, K]`.
    pub v: Tensor<2>,
    /// Global-average-pooled F_a, `[N, K]`.
    pub a: Tensor<2>,
    /// Visual class logits, `[N, C]`.
    pub logits_v: Tensor<2>,
    /// Audio class logits, `[N, C]`.
    pub logits_a: Tensor<2>,
}

/// Per-class embeddings of the fine stage.
#[derive(Debug, Clone)]
pub struct ClassEmbeddings {
    /// Audio, `[N, C, D]`, unit length (zero where the class map is empty).
    pub audio: Tensor<3>,
    /// Visual, `[N, C, D]`, unit length (zero where the class map is empty).
    pub visual: Tensor<3>,
}

fn check_input(x: &Tensor<4>, channels: usize, what: &'static str, n: Option<usize>) -> Result<()> {
    let dims = x.dims();
    if dims[1] != channels || dims.contains(&0) || n.is_some_and(|n| n != dims[0]) {
        return Err(Error::Shape {
            what,
            expected: match n {
                Some(n) => format!("[{n}, {channels}, H, W] (same batch as the frames)"),
                None => format!("[N, {channels}, H, W] with N > 0"),
            },
            found: dims.to_vec(),
        });
    }
    if dims[2] < 16 || dims[3] < 16 {
        return Err(Error::Shape {
            what,
            expected: "spatial size >= 16 (output stride 16)".into(),
            found: dims.to_vec(),
        });
    }
    Ok(())
}

impl AvModel {
    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_v.fc.weight.dims()[1]
    }

    /// Runs both trunks and the classifiers.
    ///
    /// # Shapes
    /// `frames [N, 3, H, W]` (ImageNet-normalised RGB, 256x256 in the paper), `logmels
    /// [N, 1, T, 64]` (the paper's log-mel, T = 251 for 5 s).
    ///
    /// # Errors
    /// [`Error::Shape`] for wrong channel counts, mismatched batches or maps smaller than 16.
    pub fn features(&self, frames: Tensor<4>, logmels: Tensor<4>) -> Result<AvFeatures> {
        check_input(&frames, 3, "frames", None)?;
        check_input(&logmels, 1, "log-mels", Some(frames.dims()[0]))?;
        let f_v = self.visual_map(frames)?;
        let f_a = self.audio.forward(logmels).layer4;
        let v = global_avg_pool(f_v.clone());
        let a = global_avg_pool(f_a.clone());
        let logits_v = self.class_v.forward(v.clone());
        let logits_a = self.class_a.forward(a.clone());
        Ok(AvFeatures { f_v, f_a, v, a, logits_v, logits_a })
    }

    /// The visual map F_v of ImageNet-normalised frames: the ResNet's `layer4` (`[N, K, H/16,
    /// W/16]`) or the pretrained stream's neck (`[N, K, H/32, W/32]`).
    ///
    /// # Errors
    /// [`Error::Config`] for a model assembled by hand with neither stream.
    pub fn visual_map(&self, frames: Tensor<4>) -> Result<Tensor<4>> {
        match (&self.pretrained_visual, &self.visual) {
            (Some(p), _) => Ok(p.forward(frames)),
            (None, Some(v)) => Ok(v.forward(frames).layer4),
            (None, None) => Err(Error::Config(
                "the model has no visual stream (visual and pretrained_visual are None)".into(),
            )),
        }
    }

    /// AVC logits of all audio x visual pairs (`[N, N, 2]`, index 1 = corresponding).
    pub fn avc_logits(&self, features: &AvFeatures) -> Tensor<3> {
        self.avc.forward_all_pairs(features.a.clone(), features.v.clone())
    }

    /// Class maps W (Eq. 4), non-negative and detached, `[N, C, h, w]`, of one modality.
    ///
    /// # Errors
    /// [`Error::Cam`] from Grad-CAM.
    pub fn class_maps(&self, f: Tensor<4>, visual: bool) -> Result<Tensor<4>> {
        let head = if visual { &self.class_v } else { &self.class_a };
        let maps = match self.cam {
            CamSource::Classifier => head.cam(f.detach()),
            CamSource::GradCam => {
                let classes: Vec<usize> = (0..self.num_classes()).collect();
                let score = |x: Tensor<4>| head.forward(global_avg_pool(x));
                let device = f.device();
                grad_cam(f, score, &classes, &GradCamConfig::default())?.maps.to_device(&device)
            }
        };
        Ok(maps.clamp_min(0.0).detach())
    }

    /// Per-class audio and visual embeddings (Eq. 5 pooling, projection, L2 normalisation).
    ///
    /// # Errors
    /// [`Error::Cam`], [`Error::Align`].
    pub fn class_embeddings(&self, features: &AvFeatures) -> Result<ClassEmbeddings> {
        Ok(ClassEmbeddings {
            audio: self.class_embeddings_audio(features)?,
            visual: self.class_embeddings_visual(features)?,
        })
    }

    /// The visual half of [`AvModel::class_embeddings`], `[N, C, D]`.
    ///
    /// # Errors
    /// [`Error::Cam`], [`Error::Align`].
    pub(crate) fn class_embeddings_visual(&self, features: &AvFeatures) -> Result<Tensor<3>> {
        let wv = self.class_maps(features.f_v.clone(), true)?;
        let pv = class_aware_pool(features.f_v.clone(), wv, self.pooling)?;
        Ok(self.project_v.forward(pv))
    }

    /// The audio half of [`AvModel::class_embeddings`], `[N, C, D]`.
    ///
    /// # Errors
    /// [`Error::Cam`], [`Error::Align`].
    pub(crate) fn class_embeddings_audio(&self, features: &AvFeatures) -> Result<Tensor<3>> {
        let wa = self.class_maps(features.f_a.clone(), false)?;
        let pa = class_aware_pool(features.f_a.clone(), wa, self.pooling)?;
        Ok(self.project_a.forward(pa))
    }

    /// The visual embedding at every position of F_v (Eq. 8's `g_v` as 1x1 convolutions),
    /// `[N, h w, D]`, unit length. With [`AvModelConfig::centre_visual_positions`], the frame's
    /// mean embedding is subtracted first and the result normalised again
    /// ([`centre_positions`]), so a position scores by what sets it apart from the frame.
    pub fn visual_embedding_map(&self, f_v: Tensor<4>) -> Tensor<3> {
        let [n, k, h, w] = f_v.dims();
        let g_v = self.project_v.forward(f_v.reshape([n, k, h * w]).swap_dims(1, 2));
        if self.centre_visual_positions { centre_positions(g_v) } else { g_v }
    }
}

/// `[N, P, D]` position embeddings minus their mean over the positions, each divided by its
/// length (a position equal to the mean stays 0, with a finite gradient).
pub fn centre_positions(g_v: Tensor<3>) -> Tensor<3> {
    let centred = g_v.clone() - g_v.mean_dim(1);
    let norm = centred.clone().powi_scalar(2).sum_dim(2).add_scalar(1e-12).sqrt();
    centred / norm
}
