//! The WGSL compute shaders, one `.wgsl` file each, and the Rust that dispatches them. Each
//! dispatch function mirrors a plain CPU kernel in `crate::kernels`, which stays the reference.
//!
//! Every shader keeps to WebGPU's default limits: at most 256 invocations and 16 KiB of
//! workgroup memory per workgroup (checked by the naga test below, which needs no GPU).

pub(crate) mod attention;
pub(crate) mod conv;
pub(crate) mod gates;
pub(crate) mod layers;
pub(crate) mod linear;
pub(crate) mod norm;
pub(crate) mod pooling;
pub(crate) mod slice;

/// Every shader the GPU backend runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kernel {
    Conv1x1,
    ChannelReduce,
    ChannelPool,
    MaxPool2x2,
    ChannelGate,
    ApplyGates,
    SoftmaxPositions,
    SpatialGate,
    ChannelConv1d,
    LayerNorm,
    Attention,
    AttentionRows,
    Conv2d,
    Conv2dDirect,
    Pool2d,
    Activate,
    Slice,
    Concat,
    SelectBranches,
    RelativePosition,
}

/// `Kernel => "file.wgsl"`, or `Kernel => "file.wgsl" after "a.wgsl", "b.wgsl"` for a shader that
/// uses declarations of shared fragments (WGSL has no includes): its source is them joined, in order.
macro_rules! shaders {
    ($($kernel:ident => $file:literal $(after $($fragment:literal),+)?),+ $(,)?) => {
        impl Kernel {
            #[allow(dead_code)] // read by the shader validation test only
            pub const ALL: &[Kernel] = &[$(Kernel::$kernel),+];

            pub fn file_name(self) -> &'static str {
                match self { $(Kernel::$kernel => $file,)+ }
            }

            #[allow(dead_code)] // read by the shader validation test only
            pub fn fragments(self) -> &'static [&'static str] {
                match self { $(Kernel::$kernel => &[$($($fragment),+)?],)+ }
            }

            pub fn source(self) -> &'static str {
                match self { $(Kernel::$kernel => concat!($($(include_str!($fragment), "\n",)+)? include_str!($file)),)+ }
            }
        }
    };
}

shaders! {
    Conv1x1 => "conv1x1.wgsl",
    ChannelReduce => "channel_reduce.wgsl",
    ChannelPool => "channel_pool.wgsl",
    MaxPool2x2 => "max_pool_2x2.wgsl",
    ChannelGate => "channel_gate.wgsl",
    ApplyGates => "apply_gates.wgsl",
    SoftmaxPositions => "softmax_positions.wgsl" after "workgroup_reduce.wgsl",
    SpatialGate => "spatial_gate.wgsl",
    ChannelConv1d => "channel_conv1d.wgsl",
    LayerNorm => "layer_norm.wgsl" after "workgroup_reduce.wgsl",
    Attention => "attention.wgsl",
    AttentionRows => "attention_rows.wgsl" after "workgroup_reduce.wgsl",
    Conv2d => "conv2d.wgsl" after "activations.wgsl", "conv2d_params.wgsl",
    Conv2dDirect => "conv2d_direct.wgsl" after "activations.wgsl", "conv2d_params.wgsl",
    Pool2d => "pool2d.wgsl",
    Activate => "activate.wgsl" after "activations.wgsl",
    Slice => "slice.wgsl",
    Concat => "concat.wgsl",
    SelectBranches => "select_branches.wgsl",
    RelativePosition => "relative_position.wgsl",
}

/// A `u32` for a shader parameter; sizes above 4 G elements never reach a shader because the
/// buffers holding them are refused first.
pub(crate) fn u32_of(v: usize) -> u32 {
    u32::try_from(v).expect("sizes reaching a shader fit in u32")
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::Kernel;

    /// WebGPU's default `maxComputeWorkgroupStorageSize` and `maxComputeInvocationsPerWorkgroup`.
    const WORKGROUP_BYTES: u32 = 16 * 1024;
    const INVOCATIONS: u32 = 256;

    fn validate(name: &str, source: &str) -> naga::Module {
        let module = naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
        module
    }

    #[test]
    fn every_shader_parses_validates_and_fits_webgpu_default_limits() {
        for &kernel in Kernel::ALL {
            let module = validate(kernel.file_name(), kernel.source());
            let entry =
                module.entry_points.iter().find(|e| e.name == "main").unwrap_or_else(|| panic!("{}: no `main`", kernel.file_name()));
            assert_eq!(entry.stage, naga::ShaderStage::Compute, "{}", kernel.file_name());
            let invocations: u32 = entry.workgroup_size.iter().product();
            assert!(invocations <= INVOCATIONS, "{}: {invocations} invocations per workgroup", kernel.file_name());

            let mut layouter = naga::proc::Layouter::default();
            layouter.update(module.to_ctx()).unwrap();
            let shared: u32 = module
                .global_variables
                .iter()
                .filter(|(_, var)| var.space == naga::AddressSpace::WorkGroup)
                .map(|(_, var)| layouter[var.ty].size)
                .sum();
            assert!(shared <= WORKGROUP_BYTES, "{}: {shared} bytes of workgroup memory", kernel.file_name());
        }
    }

    /// A `.wgsl` file that no kernel names would never be validated or run.
    #[test]
    fn every_wgsl_file_is_a_kernel_or_a_fragment_of_one() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gpu/kernels");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".wgsl"))
            .collect();
        files.sort();
        let mut named: Vec<String> = Kernel::ALL
            .iter()
            .flat_map(|k| std::iter::once(k.file_name()).chain(k.fragments().iter().copied()))
            .map(String::from)
            .collect();
        named.sort();
        named.dedup();
        assert_eq!(files, named);
    }

    /// The validator must reject what a browser rejects, or the test above proves nothing.
    #[test]
    #[should_panic(expected = "overflowed")]
    fn an_infinite_constant_is_rejected() {
        validate("bad.wgsl", "const LOWEST: f32 = -1.0 / 0.0;\n@compute @workgroup_size(1) fn main() {}");
    }
}
