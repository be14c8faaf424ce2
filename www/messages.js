// The element's messages in Chinese. The engine (Rust) and the page's scripts write each message in
// English from one template; MESSAGES_ZH gives each template's Chinese. translateMessage finds the
// template a message was made from, translates the parts that are messages themselves (the holes
// named in NESTED, e.g. the reason after "SE weights: ") and keeps the rest as it is (file names,
// keys, commands, numbers, a browser's own words). A message no template matches stays English,
// and tests/browser/messages.test.mjs fails on the messages a user meets that are not matched.
//
// The English templates are the Rust format strings (src/error.rs, src/weights/sniff.rs,
// src/net/, src/photo.rs) and the scripts' (www/api.js, www/image-input.js, www/model-source.js,
// www/worker.js) with `{name}` for each inserted part; keep them in step when a message changes.

// Holes whose text is itself a message (translated in turn); every other hole is kept verbatim.
const NESTED = new Set(['what', 'reason', 'problem', 'inner', 'hint', 'size', 'legacy', 'kind', 'looks', 'supported', 'fallback', 'remedy', 'detail', 'also']);

/** [English template, Chinese template], the more specific before the more general. */
export const MESSAGES_ZH = [
  // ---- NaN logits from a diverged checkpoint (src/net/checkpoint.rs) ----
  ['the logits hold {value}, as PyTorch\'s do for these weights: {detail}', 'logits 含有 {value}，与 PyTorch 用这组权重算出的一样：{detail}'],
  ['the logits hold {value}: a layer overflowed float32 on this input', 'logits 含有 {value}：这个输入让某一层超出了 float32 的范围'],
  ['the checkpoint\'s `{key}` holds {value} at index {index}', '检查点的 `{key}` 在下标 {index} 处是 {value}'],
  // ---- where a computation ran (RanOn, src/backend.rs) ----
  ['cpu backend', 'CPU 后端'],
  ['cpu backend (instead of the GPU: {fallback})', 'CPU 后端（代替 GPU：{fallback}）'],
  ['gpu backend ({adapter})', 'GPU 后端（{adapter}）'],
  ['gpu backend', 'GPU 后端'],

  // ---- a weights file that is something else (src/weights/sniff.rs) ----
  ['the file is empty (0 bytes): the download or the save did not finish; get the file again',
    '文件是空的（0 字节）：下载或保存没有完成；请重新获取该文件'],
  ['a git-LFS pointer, not the weights: the real file{size} was never downloaded; run `git lfs pull` in its repository (or download the file itself)',
    '这是 git-LFS 指针，不是权重：真正的文件{size}从未下载；请在它的仓库中运行 `git lfs pull`（或直接下载该文件）'],
  [' of {n} bytes', '（{n} 字节）'],
  ['a PyTorch checkpoint (torch.save{legacy}), not safetensors: convert it once with {command} (when the checkpoint nests the weights, e.g. {\'state_dict\': ...}, save that entry; for a saved module, its .state_dict())',
    '这是 PyTorch 检查点（torch.save{legacy}），不是 safetensors：请用这条命令转换一次：{command}（检查点若把权重嵌套存放，例如 {\'state_dict\': ...}，请保存那一项；保存的若是整个模块，请保存它的 .state_dict()）'],
  [', legacy pickle format', '，旧版 pickle 格式'],
  ['a TorchScript archive (torch.jit.save), not safetensors: convert it once with {command}',
    '这是 TorchScript 存档（torch.jit.save），不是 safetensors：请用这条命令转换一次：{command}'],
  ['a NumPy .npz archive, not safetensors: convert it once with {command} (the arrays must carry timm\'s names)',
    '这是 NumPy .npz 存档，不是 safetensors：请用这条命令转换一次：{command}（数组必须使用 timm 的名字）'],
  ['a single NumPy .npy array, not safetensors: the weights must be named tensors; save them with {command}',
    '这是单个 NumPy .npy 数组，不是 safetensors：权重必须是有名字的张量；请用 {command} 保存'],
  ['{kind}, not safetensors: save the block\'s tensors under timm\'s names in PyTorch\'s layout (a Conv2D kernel (kh, kw, in, out) becomes (out, in, kh, kw)) with safetensors\' save_file',
    '{kind}，不是 safetensors：请用 safetensors 的 save_file，以 timm 的名字、按 PyTorch 的布局保存模块的张量（Conv2D 卷积核 (kh, kw, in, out) 要变成 (out, in, kh, kw)）'],
  ['an HDF5 file (Keras .h5 weights?)', '这是 HDF5 文件（Keras 的 .h5 权重？）'],
  ['a Keras .keras archive', '这是 Keras 的 .keras 存档'],
  ['a GGUF file (llama.cpp\'s format), not safetensors', '这是 GGUF 文件（llama.cpp 的格式），不是 safetensors'],
  ['gzip-compressed, not safetensors itself: decompress it first (gunzip; a .tar.gz also needs tar -x)',
    '这是 gzip 压缩文件，不是 safetensors 本身：请先解压（gunzip；.tar.gz 还需要 tar -x）'],
  ['a zip archive, not safetensors: unpack it and give the .safetensors file inside',
    '这是 zip 压缩包，不是 safetensors：请解压后选择其中的 .safetensors 文件'],
  ['an HTML page, not the weights: the download saved a web page (a login or error page, or a file\'s page instead of its content); download the raw file (GitHub\'s "Raw" link; on the Hugging Face Hub a /resolve/ URL, not /blob/)',
    '这是 HTML 网页，不是权重：下载保存的是网页（登录页、错误页，或文件的介绍页而不是文件内容）；请下载原始文件（GitHub 的 “Raw” 链接；Hugging Face Hub 上用 /resolve/ 地址，不要用 /blob/）'],
  ['a JSON text, not the weights (an error response saved instead of the download?)',
    '这是 JSON 文本，不是权重（也许保存的是错误响应，而不是下载的文件？）'],
  ['a {format} image, not a weights file', '这是一张 {format} 图片，不是权重文件'],
  ['a text file, not weights: give the .safetensors file itself', '这是文本文件，不是权重：请选择 .safetensors 文件本身'],
  ['a safetensors file cut short: its header announces {expected} bytes, the file has {found}; download or copy it again',
    'safetensors 文件不完整：文件头声明 {expected} 字节，文件只有 {found} 字节；请重新下载或复制'],
  ['holds no tensors: save the network\'s weights ({command})', '不含任何张量：请保存网络的权重（{command}）'],
  ['holds an optimizer\'s state, not a network\'s weights: save `model.state_dict()`, or give the checkpoint that has it',
    '存的是优化器的状态，不是网络的权重：请保存 `model.state_dict()`，或选择含有它的检查点'],
  ['{size} GB is over the 2 GB this reads; a CNN\'s weights are a few hundred MB at most: save `model.state_dict()` alone',
    '{size} GB 超过了可读取的 2 GB；一个 CNN 的权重最多几百 MB：请只保存 `model.state_dict()`'],

  // ---- a block's weights (src/error.rs; www/api.js adds the block's name and what would fit) ----
  ['{block} weights: {problem}. Choose a safetensors file of one {label} block with timm\'s names, for the {c} channels it sees here.',
    '{block} 权重：{problem}。请选择一个 {label} 模块的 safetensors 文件，使用 timm 的名字，对应它在这里看到的 {c} 个通道。'],
  ['{block} weights: {problem}', '{block} 权重：{problem}'],
  ['weights: {problem}', '权重：{problem}'],
  ['missing key `{key}` (block {name} expects it)', '缺少键 `{key}`（模块 {name} 需要它）'],
  ['unexpected key `{key}` for block {name}{hint}', '模块 {name} 不认识键 `{key}`{hint}'],
  [' (`{first}` already gives timm\'s `{timm}`; read with the names of {convention})', '（`{first}` 已经给出了 timm 的 `{timm}`；按 {convention} 的名字读取）'],
  [' ({hint})', '（{hint}）'],
  ['the gaussian form has no t.* or p.*', 'gaussian 形式没有 t.* 或 p.*'],
  ['concat_project.* belongs to --pairwise concatenation', 'concat_project.* 属于 --pairwise concatenation'],
  ['mlp_add.* belongs to --fusion add, mlp_scale.* to --fusion scale', 'mlp_add.* 属于 --fusion add，mlp_scale.* 属于 --fusion scale'],
  ['key `{key}` has shape {found}, expected {expected}', '键 `{key}` 的形状是 {found}，应为 {expected}'],
  ['block {name}\'s keys are under `{prefix}` (found `{found}`{detail}): pass that prefix (`--prefix {again}`)',
    '模块 {name} 的键位于前缀 `{prefix}` 之下（发现了 `{found}`{detail}）：请给出这个前缀（`--prefix {again}`）'],
  [', the names of {convention}{also}', '，使用 {convention} 的名字{also}'],
  ['; such a block is also under {list}', '；这样的模块还位于 {list}'],
  ['{inner} (the weights were read with the names of {convention})', '{inner}（权重是按 {convention} 的名字读取的）'],
  ['{file}: key `{key}` has dtype {found}, expected F32 (or F16, BF16); {remedy}', '{file}：键 `{key}` 的数据类型是 {found}，应为 F32（或 F16、BF16）；{remedy}'],
  ['{file}: not a valid safetensors file ({reason})', '{file}：不是有效的 safetensors 文件（{reason}）'],
  ['no key of the weights starts with `{prefix}` (they look like `{example}`)', '权重中没有以 `{prefix}` 开头的键（它们形如 `{example}`）'],
  ['tensor `{name}` holds the wrong number of bytes', '张量 `{name}` 的字节数不对'],
  ['option {option} does not apply to block {block}', '选项 {option} 不适用于模块 {block}'],
  ['block {name} sits on {n} channels in this network; these weights are for {c}', '模块 {name} 在这个网络里作用在 {n} 个通道上；这些权重是 {c} 个通道的'],
  ['read from `{prefix}` ({n} other blocks of that kind in the file: loadWeights(block, file, prefix) picks one)', '从 `{prefix}` 读取（文件里还有 {n} 个同类模块：loadWeights(block, file, prefix) 可以选择其中一个）'],
  ['read from `{prefix}` (1 other block of that kind in the file: loadWeights(block, file, prefix) picks one)', '从 `{prefix}` 读取（文件里还有 1 个同类模块：loadWeights(block, file, prefix) 可以选择它）'],
  ['read from `{prefix}`', '从 `{prefix}` 读取'],
  ['{n} heads do not divide the {c} channels', '{n} 个头不能整除 {c} 个通道'],
  ['unknown value `{value}` (one of: {list})', '未知的值 `{value}`（可选：{list}）'],

  // ---- a network's checkpoint (src/net/; www/api.js, www/model-source.js) ----
  ['arch: {reason}', '架构：{reason}'],
  ['off: {reason}', 'off：{reason}'],
  ['labels: {reason}', '类别名：{reason}'],
  ['the checkpoint is a timm EfficientNet, MobileNetV3, MNASNet or MixNet, whose strides and activations the weights do not tell. Pick it from the list beside the network\'s name (in an embed: the arch attribute).',
    '这个检查点是 timm 的 EfficientNet、MobileNetV3、MNASNet 或 MixNet，它的步幅和激活函数无法从权重看出。请在网络名称旁的列表中选择它（嵌入时：用 arch 属性）。'],
  ['the checkpoint is a timm ByobNet, whose activation and stem pooling the weights do not tell. Pick it from the list beside the network\'s name (in an embed: the arch attribute).',
    '这个检查点是 timm 的 ByobNet，它的激活函数和 stem 的池化无法从权重看出。请在网络名称旁的列表中选择它（嵌入时：用 arch 属性）。'],
  ['the checkpoint is a timm ByobNet, whose activation and stem pooling the weights do not tell: name it, as --arch {names}',
    '这个检查点是 timm 的 ByobNet，它的激活函数和 stem 的池化无法从权重看出：请指明架构，如 --arch {names}'],
  ['input-size: {reason}', '输入尺寸：{reason}'],
  ['{path}: the relative position embedding (BoTNet) is made for a {h} x {w} grid, and this input gives it {gh} x {gw}: run the network at the input size it was trained at (256 x 256 for the _256 networks)',
    '{path}：相对位置嵌入（BoTNet）是为 {h} x {w} 的网格做的，而这个输入给它的是 {gh} x {gw}：请用网络训练时的输入尺寸运行它（_256 系列网络为 256 x 256）'],
  ['{arch} is not a ByobNet this engine runs', '{arch} 不是本引擎能运行的 ByobNet'],
  ['{arch} does not fit these weights; they are timm\'s {name}: name {name} instead, or none', '{arch} 与这组权重不符；它们是 timm 的 {name}：请改为指明 {name}，或不指明架构'],
  ['{arch} does not fit these weights; they hold BoTNet self-attention blocks: name a BoTNet', '{arch} 与这组权重不符；其中有 BoTNet 自注意力模块：请指明一个 BoTNet'],
  ['{arch} does not fit these weights; they hold no self-attention blocks: name a ByobNet without them', '{arch} 与这组权重不符；其中没有自注意力模块：请指明一个不带自注意力的 ByobNet'],
  ['{name} is not a {arch}: {reason} Pick another architecture from the list.', '{name} 不是 {arch}：{reason} 请从列表中选择另一个架构。'],
  ['the checkpoint looks like {looks}, which is not supported yet; supported: {supported}', '这个检查点看起来是{looks}，目前还不支持；支持的有：{supported}'],
  ['{name} is not supported yet (the checkpoint looks like {looks}); supported: {supported}', '{name} 目前还不支持（这个检查点看起来是{looks}）；支持的有：{supported}'],
  ['a Vision Transformer (timm vit_* / deit_*)', 'Vision Transformer（timm 的 vit_* / deit_*）'],
  ['a timm EfficientNet or MobileNetV3', 'timm 的 EfficientNet 或 MobileNetV3'],
  ['a torchvision MobileNet, EfficientNet or VGG', 'torchvision 的 MobileNet、EfficientNet 或 VGG'],
  ['a timm RegNet', 'timm 的 RegNet'],
  ['an input tensor `x` (a file for `apply` or `net --input`), not a network\'s weights', '输入张量 `x`（给 `apply` 或 `net --input` 用的文件），不是网络的权重'],
  ['a timm ByobNet (gcresnet50t, the *_ts networks) or another stage-based network', 'timm 的 ByobNet（gcresnet50t、*_ts 系列网络）或其他分阶段的网络'],
  ['a timm ConvNeXt (convnext_*)', 'timm 的 ConvNeXt（convnext_*）'],
  ['a timm GhostNet (ghostnet_*)', 'timm 的 GhostNet（ghostnet_*）'],
  ['a timm MixNet (mixnet_*, mixed depthwise kernels)', 'timm 的 MixNet（mixnet_*，混合尺寸的深度卷积核）'],
  ['a timm ReXNet (rexnet_*)', 'timm 的 ReXNet（rexnet_*）'],
  ['a timm SKNet (skresnet*, Selective Kernel)', 'timm 的 SKNet（skresnet*，Selective Kernel）'],
  ['a timm ResNeSt (resnest*, Split Attention)', 'timm 的 ResNeSt（resnest*，Split Attention）'],
  ['a timm HaloNet (halonet*, eca_halonext*, haloregnetz_*: halo attention)', 'timm 的 HaloNet（halonet*、eca_halonext*、haloregnetz_*：halo 注意力）'],
  ['a timm BoTNet (botnet*: bottleneck self-attention)', 'timm 的 BoTNet（botnet*：瓶颈自注意力）'],
  ['a timm LambdaNet (lambda_resnet*: lambda layers)', 'timm 的 LambdaNet（lambda_resnet*：lambda 层）'],
  ['a timm BAT network (bat_resnext*: bilinear attention transform)', 'timm 的 BAT 网络（bat_resnext*：双线性注意力变换）'],
  ['a ResNet', '一个 ResNet'],
  ['the weights of one attention block, not a whole network (they go to a block of the bundled network: Own weights… in the page, --weights in render)',
    '一个注意力模块的权重，而不是整个网络（它们可以用于内置网络的模块：页面上的“自己的权重…”，render 的 --weights）'],
  ['an empty state dict', '空的 state dict'],
  ['no network this engine knows', '本引擎不认识的网络'],
  ['timm\'s ResNet family (resnet*, seresnet*, seresnext*, ecaresnet*, ...; BasicBlock and Bottleneck, deep and tiered stems, average-pool downsampling, ResNeXt groups, se/eca/ceca/ese/cbam/gc/gca/nl attention), timm\'s skresnet*/skresnext* (Selective Kernel) and resnest* (Split Attention), timm\'s ByobNet resnext26ts, gcresnext26ts, seresnext26ts, eca_resnext26ts, resnet32ts, resnet33ts, gcresnet33ts, seresnet33ts, eca_resnet33ts, gcresnet50t and gcresnext50ts, timm\'s RegNetZ regnetz_b16, regnetz_c16, regnetz_d8, regnetz_d32 and regnetz_e8, timm\'s BoTNet botnet26t_256, eca_botnext26ts_256, sebotnet33ts_256 and botnet50ts_256 (bottleneck self-attention), timm\'s regnetx_* and regnety_*, timm\'s rexnet_* and rexnetr_*, timm\'s ghostnet_* (v1), timm\'s efficientnet_b*, tf_efficientnet_b*, mobilenetv3_large_*, mobilenetv3_small_*, mnasnet_*, semnasnet_*, mixnet_*, tf_mixnet_* (with their architecture named), lcnet_*, torchvision\'s resnet18/50, mobilenet_v3_large, mobilenet_v3_small, efficientnet_b0..b7 (with their architecture named), and the playground\'s own scenes network (src/model/trained.safetensors)',
    'timm 的 ResNet 系列（resnet*、seresnet*、seresnext*、ecaresnet* 等；BasicBlock 和 Bottleneck，deep 和 tiered stem，平均池化下采样，ResNeXt 分组，se/eca/ceca/ese/cbam/gc/gca/nl 注意力），timm 的 skresnet*/skresnext*（Selective Kernel）和 resnest*（Split Attention），timm 的 ByobNet：resnext26ts、gcresnext26ts、seresnext26ts、eca_resnext26ts、resnet32ts、resnet33ts、gcresnet33ts、seresnet33ts、eca_resnet33ts、gcresnet50t 和 gcresnext50ts，timm 的 RegNetZ：regnetz_b16、regnetz_c16、regnetz_d8、regnetz_d32 和 regnetz_e8，timm 的 BoTNet：botnet26t_256、eca_botnext26ts_256、sebotnet33ts_256 和 botnet50ts_256（瓶颈自注意力），timm 的 regnetx_* 和 regnety_*，timm 的 rexnet_* 和 rexnetr_*，timm 的 ghostnet_*（v1），timm 的 efficientnet_b*、tf_efficientnet_b*、mobilenetv3_large_*、mobilenetv3_small_*、mnasnet_*、semnasnet_*、mixnet_*、tf_mixnet_*（需指明架构），lcnet_*，torchvision 的 resnet18/50、mobilenet_v3_large、mobilenet_v3_small、efficientnet_b0..b7（需指明架构），以及本项目自己的场景网络（src/model/trained.safetensors）'],
  ['the checkpoint has `{key}`, which the {family} builder does not know: a variant this engine does not run yet',
    '检查点中有 `{key}`，{family} 的构建器不认识它：这是本引擎还不能运行的变体'],
  ['the checkpoint lacks `{key}`', '检查点缺少 `{key}`'],
  ['the checkpoint has no `{key}`: not a four-stage ResNet', '检查点中没有 `{key}`：不是四阶段的 ResNet'],
  ['the checkpoint has no `{key}`: not a four-stage RegNet', '检查点中没有 `{key}`：不是四阶段的 RegNet'],
  ['the checkpoint has no `{key}`: not a four-stage ByobNet', '检查点中没有 `{key}`：不是四阶段的 ByobNet'],
  ['the checkpoint has no `stem.conv1.conv.weight` or `stem.conv.weight`: not a ByobNet\'s stem', '检查点中没有 `stem.conv1.conv.weight` 或 `stem.conv.weight`：不是 ByobNet 的 stem'],
  ['`{key}`: a ByobNet block other than a bottleneck (conv1_1x1, conv2_kxk, conv3_1x1) or a BoTNet self-attention block, which this engine does not run yet',
    '`{key}`：这是瓶颈块（conv1_1x1、conv2_kxk、conv3_1x1）或 BoTNet 自注意力块以外的 ByobNet 模块，本引擎目前还不能运行'],
  ['`{key}`: a ByobNet shortcut other than conv1x1 (downsample=\'avg\'), which this engine does not run yet', '`{key}`：这是 conv1x1 以外的 ByobNet 捷径（downsample=\'avg\'），本引擎目前还不能运行'],
  ['`{key}`: a self-attention block with a k x k convolution before it (extra_conv), which this engine does not run yet', '`{key}`：这是前面带 k x k 卷积（extra_conv）的自注意力块，本引擎目前还不能运行'],
  ['`{key}`: a BottleneckAttn with qkv_bias, which this engine does not run yet', '`{key}`：这是带 qkv_bias 的 BottleneckAttn，本引擎目前还不能运行'],
  ['`{path}`: qkv gives {o} channels on {c} and the position embedding is {h} and {w} by {d}: not a BottleneckAttn', '`{path}`：qkv 在 {c} 个通道上给出 {o} 个通道，位置嵌入是 {h} 和 {w} 乘 {d}：不是 BottleneckAttn'],
  ['{path}: BottleneckAttn: qkv gives {o} channels, not 2 x {heads} heads x {d} + {c}', '{path}：BottleneckAttn：qkv 给出 {o} 个通道，而不是 2 x {heads} 个头 x {d} + {c}'],
  ['{path}: BottleneckAttn: the position embedding is not ({h} or {w}, {d})', '{path}：BottleneckAttn：位置嵌入不是 ({h} 或 {w}, {d})'],
  ['`{key}` takes {n} features; the network gives {c}', '`{key}` 需要 {n} 个特征；网络给出 {c} 个'],
  ['`{key}`: a GhostNetV2 or V3 (DFC attention, re-parameterised branches), which this engine does not run yet; it runs GhostNet v1 (ghostnet_*)', '`{key}`：这是 GhostNetV2 或 V3（DFC 注意力、重参数化分支），本引擎目前还不能运行；能运行的是 GhostNet v1（ghostnet_*）'],
  ['a ghost module joins {a} and {b} channels of {h} x {w} and {hb} x {wb} into {channels}', 'ghost 模块把 {a} 和 {b} 个通道（{h} x {w} 与 {hb} x {wb}）拼接成 {channels} 个'],
  ['the checkpoint has {n} bottleneck blocks; timm\'s ReXNets (depth multiplier 1) have {m}, whose strides this knows', '检查点有 {n} 个瓶颈块；timm 的 ReXNet（深度系数 1）有 {m} 个，本引擎知道它们的步幅'],
  ['{arch} is not an EfficientNet, MobileNetV3, MNASNet, MixNet or LCNet this knows', '{arch} 不是本引擎认识的 EfficientNet、MobileNetV3、MNASNet、MixNet 或 LCNet'],
  ['{path}: a branch attention of {r} branches of {c} channels cannot take a select layer of {o} x {i} after a reduction to {a}', '{path}：{r} 个分支、每支 {c} 个通道的分支注意力，无法接上 {o} x {i} 的选择层（降维到 {a}）'],
  ['{path}: {c} channels do not split into {g} groups', '{path}：{c} 个通道无法分成 {g} 组'],
  ['{path}: the branch attention takes {r} branches of {c} channels but receives {n}', '{path}：分支注意力需要 {r} 个分支、每支 {c} 个通道，但收到 {n} 个通道'],
  ['{path}: a 1x1 convolution of {g} groups from {i} to {o} channels holds {n} weights', '{path}：{g} 组、从 {i} 到 {o} 个通道的 1x1 卷积有 {n} 个权重'],
  ['`{key}` takes {n} channels; the Selective Kernel gives {c}', '`{key}` 需要 {n} 个通道；Selective Kernel 给出 {c} 个'],
  ['`{key}` takes {n} channels; it is given {c}', '`{key}` 需要 {n} 个通道；输入有 {c} 个'],
  ['`{key}`: a Split Attention of {m} channels cannot feed `conv3`\'s {c}', '`{key}`：{m} 个通道的 Split Attention 无法接上 `conv3` 的 {c} 个通道'],
  ['`{key}` has {g} groups; a radix of {r} and {c} groups make {n}', '`{key}` 有 {g} 组；radix 为 {r}、{c} 组应为 {n} 组'],
  ['a mixed convolution\'s groups take {n} channels; it is given {c}', '混合卷积的各组共需 {n} 个通道，而输入有 {c} 个'],
  ['a mixed convolution\'s groups give {h} x {w} and {hb} x {wb}', '混合卷积的各组给出 {h} x {w} 和 {hb} x {wb}'],
  ['{arch} is not a torchvision MobileNetV3 or EfficientNet this knows', '{arch} 不是本引擎认识的 torchvision MobileNetV3 或 EfficientNet'],
  ['{arch} has {found}: name the architecture it was trained as', '{arch} 有 {found}：请指明训练它时用的架构'],
  ['`{key}`: an attention layer this engine does not know', '`{key}`：本引擎不认识的注意力层'],
  ['`{key}`: a block this engine does not know', '`{key}`：本引擎不认识的模块'],
  ['`{path}` changes the shape but has no `downsample`', '`{path}` 改变了形状，却没有 `downsample`'],
  ['`{key}` takes {n} features; the last stage gives {c}', '`{key}` 需要 {n} 个特征；最后一个阶段给出 {c} 个'],
  ['{path}: missing `{key}`', '{path}：缺少 `{key}`'],
  ['`{word}` names no attention block of this network (they are {list})', '`{word}` 不是这个网络中任何注意力模块的名字（它们是 {list}）'],
  ['{n} names for a network with {classes} classes: give one name per line, in the head\'s order',
    '给了 {n} 个名字，而网络有 {classes} 个类别：请每行写一个名字，按分类头的顺序'],
  ['The network at {url} could not be fetched: the host answered {status}. Check the model address.',
    '无法获取 {url} 处的网络：服务器返回 {status}。请检查模型地址。'],
  ['The network at {url} could not be fetched: the host did not answer, or it does not let this page read the file (CORS). Host the checkpoint beside the page, or have its host send Access-Control-Allow-Origin: *.',
    '无法获取 {url} 处的网络：服务器没有响应，或不允许这个页面读取该文件（CORS）。请把检查点放在页面旁边，或让它的服务器发送 Access-Control-Allow-Origin: *。'],
  ['{name} is {size}; the page reads networks up to {max} (the command line, attention-playground net, reads up to 2 GB). Save the weights alone, in float16 if they are float32.',
    '{name} 有 {size}；页面最多读取 {max} 的网络（命令行 attention-playground net 最多读取 2 GB）。请只保存权重，float32 的可存为 float16。'],
  // ---- a PyTorch checkpoint read in the page (src/weights/pth.rs) ----
  ['a PyTorch checkpoint that cannot be read ({cause}): it is damaged or cut short; save it again with torch.save(model.state_dict(), ...)',
    '无法读取的 PyTorch 检查点（{cause}）：文件已损坏或不完整；请用 torch.save(model.state_dict(), ...) 重新保存'],
  ['a PyTorch checkpoint in the legacy layout of torch before 1.6, which the page does not read: save it again with a current torch.save(model.state_dict(), ...), or open it with the command line (attention-playground net), which reads it',
    '这是 torch 1.6 之前旧格式的 PyTorch 检查点，页面不读取这种格式：请用新版的 torch.save(model.state_dict(), ...) 重新保存，或用能读取它的命令行（attention-playground net）打开'],
  ['the engine stopped on an internal error while opening {name} ({error}): a bug, not your file\'s fault; it restarts. Please report it with the file.',
    '引擎在打开 {name} 时因内部错误而停止（{error}）：这是程序的缺陷，不是你的文件的问题；引擎会重新启动。请连同文件一起报告。'],
  // ---- a network from the Hugging Face Hub (www/hub.js, www/api.js) ----
  ['{id} could not be fetched: this browser is offline. A network opened once is kept in this browser and opens offline; open {id} again when you are online.',
    '无法获取 {id}：浏览器处于离线状态。打开过一次的网络会保存在本浏览器中，可以离线打开；请联网后再打开 {id}。'],
  ['{id} could not be fetched from {origin}: the Hub did not answer or did not let this page read the file (CORS). Check your connection; for a mirror, set the hub attribute to its address.',
    '无法从 {origin} 获取 {id}：Hub 没有响应，或不允许这个页面读取该文件（CORS）。请检查网络连接；使用镜像时，请把 hub 属性设为镜像的地址。'],
  ['{id} is gated or private on the Hub (it answered {status}): this page cannot sign in for you. Accept its terms on the Hub, download its model.safetensors and config.json, and open both at once with Open a network… → From a file…',
    '{id} 在 Hub 上需要授权或是私有的（返回 {status}）：这个页面无法替你登录。请在 Hub 上接受它的条款，下载它的 model.safetensors 和 config.json，再用“打开网络…”→“从文件打开…”同时打开这两个文件'],
  ['{id} is not on the Hub at {origin} (404): check its name, organisation/model.tag, e.g. timm/mobilenetv3_large_100.ra_in1k.',
    '{origin} 的 Hub 上没有 {id}（404）：请检查名字，格式为 组织/模型.标签，例如 timm/mobilenetv3_large_100.ra_in1k。'],
  ['{name} is a checkpoint\'s config.json, not its weights: pick it together with the checkpoint (both files at once).',
    '{name} 是检查点的 config.json，不是权重：请把它和检查点一起选中（同时选择两个文件）。'],
  ['{id} has no {file} on the Hub (404): the page opens safetensors checkpoints; pick a timm repository that has one.',
    '{id} 在 Hub 上没有 {file}（404）：页面只打开 safetensors 检查点；请选择有这个文件的 timm 仓库。'],
  ['{id} could not be fetched: the Hub answered {status}. Try again later.', '无法获取 {id}：Hub 返回 {status}。请稍后再试。'],
  ['{id}: {file} is {amount}; the page reads networks up to {max} (the command line, attention-playground net, reads up to 2 GB). Pick a smaller network.',
    '{id}：{file} 有 {amount}；页面最多读取 {max} 的网络（命令行 attention-playground net 最多读取 2 GB）。请选择更小的网络。'],
  ['{id}: its config.json is not JSON; it is not a timm repository the page can open.', '{id}：它的 config.json 不是 JSON；这不是页面能打开的 timm 仓库。'],
  ['{id} is a {arch}, which this engine does not run yet; it runs {supported}.', '{id} 是 {arch}，本引擎目前还不能运行它；能运行的有：{supported}。'],
  ['"{id}" is not a Hub model id: give it as organisation/name, e.g. timm/mobilenetv3_large_100.ra_in1k', '“{id}”不是 Hub 模型名：请写成 组织/名字，例如 timm/mobilenetv3_large_100.ra_in1k'],
  ['Opening {id} was cancelled.', '已取消打开 {id}。'],
  // a checkpoint's config.json (src/net/config.rs, src/net/families/mod.rs)
  ['config.json of {name}: {reason}', '{name} 的 config.json：{reason}'],
  ['is not JSON ({cause})', '不是 JSON（{cause}）'],
  ['is not a JSON object such as timm\'s config.json', '不是 timm 的 config.json 那样的 JSON 对象'],
  ['`architecture` is {value}, not a timm model name', '`architecture` 是 {value}，不是 timm 的模型名'],
  ['`num_classes` is {value}, not a count', '`num_classes` 是 {value}，不是个数'],
  ['`num_classes` is {value}', '`num_classes` 是 {value}'],
  ['`label_names` holds {value}, not a name', '`label_names` 含有 {value}，不是名字'],
  ['`label_names` is {value}, not a list of names', '`label_names` 是 {value}，不是名字列表'],
  ['`label_names` has {n} names for `num_classes` {c}', '`label_names` 有 {n} 个名字，而 `num_classes` 是 {c}'],
  ['`pretrained_cfg` is {value}, not an object', '`pretrained_cfg` 是 {value}，不是对象'],
  ['`pretrained_cfg.input_size` is {h} x {w}: the engine evaluates square inputs only', '`pretrained_cfg.input_size` 是 {h} x {w}：本引擎只计算正方形的输入'],
  ['`pretrained_cfg.input_size` is {value}, not [3, H, W] of an RGB network', '`pretrained_cfg.input_size` 是 {value}，不是 RGB 网络的 [3, H, W]'],
  ['`pretrained_cfg.crop_pct` is {value}, not a share in (0, 1]', '`pretrained_cfg.crop_pct` 是 {value}，不是 (0, 1] 中的比例'],
  ['`pretrained_cfg.crop_mode` is `{value}`: the engine runs center, squash and border', '`pretrained_cfg.crop_mode` 是 `{value}`：本引擎支持 center、squash 和 border'],
  ['`pretrained_cfg.crop_mode` is {value}, not a name', '`pretrained_cfg.crop_mode` 是 {value}，不是名字'],
  ['`pretrained_cfg.interpolation` is `{value}`: the engine resizes with bilinear or bicubic', '`pretrained_cfg.interpolation` 是 `{value}`：本引擎用 bilinear 或 bicubic 缩放'],
  ['`pretrained_cfg.interpolation` is {value}, not a name', '`pretrained_cfg.interpolation` 是 {value}，不是名字'],
  ['`pretrained_cfg.{key}` is {value}, not three numbers (R, G, B)', '`pretrained_cfg.{key}` 是 {value}，不是三个数（R、G、B）'],
  ['cannot be read ({cause})', '无法读取（{cause}）'],
  ['its config.json says {n} classes, but the checkpoint\'s head has {c}: they are not the same network\'s', '它的 config.json 写的是 {n} 个类别，而检查点的分类头有 {c} 个：它们不属于同一个网络'],
  ['its config.json names {name}, a network with {attn} blocks, but the checkpoint holds {found}: they are not the same network\'s', '它的 config.json 写的是 {name}，一个带 {attn} 模块的网络，而检查点含有 {found}：它们不属于同一个网络'],
  ['its config.json names the architecture {name}, but the checkpoint looks like {looks}: not that network\'s weights', '它的 config.json 写的架构是 {name}，而这个检查点看起来是{looks}：不是那个网络的权重'],
  ['its config.json names the architecture {name}, which this engine does not run yet (the checkpoint looks like {looks}); supported: {supported}',
    '它的 config.json 写的架构是 {name}，本引擎目前还不能运行它（这个检查点看起来是{looks}）；支持的有：{supported}'],
  ['The labels at {url} could not be fetched; give one class name per line, or a reachable URL of such a file.',
    '无法获取 {url} 处的类别名：请每行写一个类别名，或给出这样一个文件的可访问地址。'],

  // ---- photos (src/photo.rs, www/worker.js, www/image-input.js) ----
  ['image: {problem}', '图片：{problem}'],
  ['{name} is not a photo this can read; choose a JPEG, PNG, WebP, GIF or BMP file', '{name} 不是可以读取的照片；请选择 JPEG、PNG、WebP、GIF 或 BMP 文件'],
  ['{name} is {w} x {h} pixels ({mp} megapixels), too large: the limit is {limit} megapixels (16384 x 16384); scale it down first (the networks work at 224 pixels at most)',
    '{name} 有 {w} x {h} 像素（{mp} 百万像素），太大了：上限是 {limit} 百万像素（16384 x 16384）；请先缩小（网络最多只用 224 像素）'],
  ['{name} is empty (0 bytes); choose a photo (JPEG, PNG, WebP or GIF)', '{name} 是空的（0 字节）；请选择一张照片（JPEG、PNG、WebP 或 GIF）'],
  ['{name} is {mb} MB, over the {limit} MB limit; save it smaller (a JPEG of a few MB is plenty: the networks work at 224 pixels at most)',
    '{name} 有 {mb} MB，超过了 {limit} MB 的上限；请存得小一些（几 MB 的 JPEG 就足够了：网络最多只用 224 像素）'],
  ['{name} is empty (0 bytes). Choose a photo (JPEG, PNG, WebP, GIF or SVG).', '{name} 是空的（0 字节）。请选择一张照片（JPEG、PNG、WebP、GIF 或 SVG）。'],
  ['{name} is not an image ({type}). Choose a photo (JPEG, PNG, WebP, GIF or SVG).', '{name} 不是图片（{type}）。请选择一张照片（JPEG、PNG、WebP、GIF 或 SVG）。'],
  ['{name} is {mb} MB; the limit is {limit} MB. Save it smaller: the networks work at 224 pixels at most.', '{name} 有 {mb} MB；上限是 {limit} MB。请存得小一些：网络最多只用 224 像素。'],
  ['{name} starts as a {format} file but its size cannot be read: the file is damaged or cut short; choose another photo, or open and save it again', '{name} 开头是 {format} 文件，但读不出它的尺寸：文件已损坏或不完整；请选择另一张照片，或打开后重新保存'],
  ['{name} says it is {w} x {h} pixels: the file is damaged; choose another photo, or open and save it again', '{name} 声称自己有 {w} x {h} 像素：文件已损坏；请选择另一张照片，或打开后重新保存'],
  ['{name} is an AVIF or HEIC photo this browser does not decode; convert it to JPEG (an iPhone saves JPEG with Settings > Camera > Formats > Most Compatible).',
    '{name} 是这个浏览器无法解码的 AVIF 或 HEIC 照片；请转换成 JPEG（iPhone 可在“设置 > 相机 > 格式 > 兼容性最佳”中保存为 JPEG）。'],
  ['{name} could not be read as an image: the file is damaged or cut short. Choose another photo, or open and save it again as JPEG or PNG.',
    '{name} 无法作为图片读取：文件已损坏或不完整。请选择另一张照片，或打开后重新存为 JPEG 或 PNG。'],
  ['{name} could not be read as an image: the SVG is damaged.', '{name} 无法作为图片读取：SVG 已损坏。'],
  ['Could not load {url}: the server answered {status}. Check the address, or choose the file instead.', '无法加载 {url}：服务器返回 {status}。请检查地址，或改为选择文件。'],
  ['Could not load {url}: the server did not answer. Check the address, or choose the file instead.', '无法加载 {url}：服务器没有响应。请检查地址，或改为选择文件。'],

  // ---- the GPU (src/error.rs, src/gpu/) ----
  ['GPU backend unavailable: {reason}', 'GPU 后端不可用：{reason}'],
  ['this browser offers no WebGPU adapter (WebGPU is off, unsupported, or blocked for this GPU); choose the CPU backend, or auto, which falls back to it',
    '这个浏览器没有提供 WebGPU 适配器（WebGPU 已关闭、不受支持，或这块 GPU 被屏蔽）；请选择 CPU 后端，或选择自动（它会退回到 CPU）'],
  ['The SVG export could not load its library (vendor/svgcanvas.js): {reason}. Export PNG works without it.', 'SVG 导出无法加载它的库（vendor/svgcanvas.js）：{reason}。导出 PNG 不需要它。'],
  ['the only WebGPU adapter, {name}, is a software one (a fallback adapter); choose WebGPU to use it anyway', '唯一的 WebGPU 适配器 {name} 是软件实现的（后备适配器）；若仍要使用它，请选择 WebGPU'],
  ['this browser offers no WebGPU adapter (WebGPU is off, unsupported, or blocked for this GPU)', '这个浏览器没有提供 WebGPU 适配器（WebGPU 已关闭、不受支持，或这块 GPU 被屏蔽）'],
  ['the GPU could not run this pass: {reason}', 'GPU 无法完成这一遍计算：{reason}'],

  // ---- a file name before its problem: last, the most general ----
  ['{file}: {what}', '{file}：{what}'],
];

const compiled = MESSAGES_ZH.map(([en, zh]) => {
  const holes = [];
  const pattern = en.split(/\{([a-z_]+)\}/).map((part, i) => {
    if (i % 2 === 0) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    holes.push(part);
    return '([\\s\\S]*?)';
  }).join('');
  return { re: new RegExp(`^${pattern}$`), holes, zh };
});

/** `text` in Chinese, or null where no template makes it (see the header). */
export function translateMessage(text) {
  if (text === '') return '';
  for (const { re, holes, zh } of compiled) {
    const m = re.exec(text);
    if (!m) continue;
    const values = {};
    let whole = true;
    holes.forEach((name, i) => {
      if (!whole) return;
      const value = m[i + 1];
      const translated = NESTED.has(name) ? translateMessage(value) : value;
      if (translated === null) whole = false;
      values[name] = translated;
    });
    if (whole) return zh.replace(/\{([a-z_]+)\}/g, (_, name) => values[name] ?? '');
  }
  return null;
}
