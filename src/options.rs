//! The options a block takes besides its weights, parsed from the same words the CLI and the
//! browser use, and checked against the block they are given to.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::kernels::conv::ChannelPadding;

/// Implements `FromStr` and `Display` for an option enum from its words.
macro_rules! option_words {
    ($ty:ident, $option:literal, { $($word:literal => $variant:ident),+ $(,)? }) => {
        impl FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s {
                    $($word => Ok($ty::$variant),)+
                    _ => Err(Error::BadOption {
                        option: $option,
                        reason: format!("unknown value `{s}` (one of: {})", [$($word),+].join(", ")),
                    }),
                }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self { $($ty::$variant => $word,)+ })
            }
        }
    };
}

/// The blocks the engine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BlockKind {
    Se,
    Cbam,
    NonLocal,
    Eca,
    Gc,
    Mhsa,
}
option_words!(BlockKind, "--block", {
    "se" => Se, "cbam" => Cbam, "nonlocal" => NonLocal, "eca" => Eca, "gc" => Gc, "mhsa" => Mhsa,
});

impl BlockKind {
    pub const ALL: [BlockKind; 6] = [BlockKind::Se, BlockKind::Cbam, BlockKind::NonLocal, BlockKind::Eca, BlockKind::Gc, BlockKind::Mhsa];

    pub fn name(self) -> &'static str {
        match self {
            BlockKind::Se => "se",
            BlockKind::Cbam => "cbam",
            BlockKind::NonLocal => "nonlocal",
            BlockKind::Eca => "eca",
            BlockKind::Gc => "gc",
            BlockKind::Mhsa => "mhsa",
        }
    }
}

/// CBAM: which pooled map comes first in the spatial gate's two input channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpatialOrder {
    /// `[mean, max]`: timm.
    #[default]
    MeanMax,
    /// `[max, mean]`: the official CBAM code.
    MaxMean,
}
option_words!(SpatialOrder, "--spatial-order", { "mean-max" => MeanMax, "max-mean" => MaxMean });

/// Non-local: the pairwise function of the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pairwise {
    #[default]
    EmbeddedGaussian,
    DotProduct,
    Gaussian,
    Concatenation,
}
option_words!(Pairwise, "--pairwise", {
    "embedded-gaussian" => EmbeddedGaussian, "dot-product" => DotProduct,
    "gaussian" => Gaussian, "concatenation" => Concatenation,
});

/// Non-local: the factor on the logits of the softmax forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScaleMode {
    /// `C^-0.5` with C the input channels: timm.
    #[default]
    Input,
    /// `rd^-0.5` with rd the embedding width: the official video-nonlocal-net code.
    Inner,
    /// 1: AlexHex7's PyTorch port.
    None,
}
option_words!(ScaleMode, "--scale", { "input" => Input, "inner" => Inner, "none" => None });

/// ECA: zero padding along channels (`EcaModule`) or circular (`CecaModule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EcaPadding {
    #[default]
    Zero,
    Circular,
}
option_words!(EcaPadding, "--padding", { "zero" => Zero, "circular" => Circular });

impl From<EcaPadding> for ChannelPadding {
    fn from(p: EcaPadding) -> Self {
        match p {
            EcaPadding::Zero => ChannelPadding::Zero,
            EcaPadding::Circular => ChannelPadding::Circular,
        }
    }
}

/// GC: how the transformed context joins the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fusion {
    /// `x * sigmoid(T(ctx))`: timm's default.
    #[default]
    Scale,
    /// `x + T(ctx)`: the GCNet paper's default.
    Add,
}
option_words!(Fusion, "--fusion", { "scale" => Scale, "add" => Add });

/// Every block option; `None` (or `false`) means "not given", so that an option given to a block
/// it does not belong to can be refused instead of ignored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockOptions {
    pub spatial_order: Option<SpatialOrder>,
    pub pairwise: Option<Pairwise>,
    pub scale: Option<ScaleMode>,
    pub subsample: bool,
    pub padding: Option<EcaPadding>,
    pub fusion: Option<Fusion>,
    pub heads: Option<usize>,
}

impl BlockOptions {
    /// These options, with `defaults` filling in each one not given (a weights file's convention
    /// implies some: [`super::ports`]). Given options always win.
    pub fn or_defaults(&self, defaults: &BlockOptions) -> BlockOptions {
        BlockOptions {
            spatial_order: self.spatial_order.or(defaults.spatial_order),
            pairwise: self.pairwise.or(defaults.pairwise),
            scale: self.scale.or(defaults.scale),
            subsample: self.subsample || defaults.subsample,
            padding: self.padding.or(defaults.padding),
            fusion: self.fusion.or(defaults.fusion),
            heads: self.heads.or(defaults.heads),
        }
    }

    /// Refuses every option given that `kind` does not take.
    pub fn check_for(&self, kind: BlockKind) -> Result<()> {
        let given: [(&'static str, bool, &[BlockKind]); 7] = [
            ("--spatial-order", self.spatial_order.is_some(), &[BlockKind::Cbam]),
            ("--pairwise", self.pairwise.is_some(), &[BlockKind::NonLocal]),
            ("--scale", self.scale.is_some(), &[BlockKind::NonLocal]),
            ("--subsample", self.subsample, &[BlockKind::NonLocal]),
            ("--padding", self.padding.is_some(), &[BlockKind::Eca]),
            ("--fusion", self.fusion.is_some(), &[BlockKind::Gc]),
            ("--heads", self.heads.is_some(), &[BlockKind::Mhsa]),
        ];
        match given.iter().find(|(_, set, blocks)| *set && !blocks.contains(&kind)) {
            Some(&(option, ..)) => Err(Error::OptionNotForBlock { option, block: kind.name() }),
            None => Ok(()),
        }
    }
}
