// Reading a network's checkpoint for the page: a File or Blob (picked or dropped), a URL (the
// element's `model` attribute), or bytes, with progress. Every failure is an Error that names the
// problem and what to do. The bytes go to the engine's worker, which parses them.

// The page reads checkpoints up to this size; the engine needs about twice it while it builds
// the network, inside a tab's WebAssembly memory (4 GB at most).
export const MAX_MODEL_BYTES = 1024 * 2 ** 20;

const mb = (n) => `${(n / 2 ** 20).toFixed(n < 10 * 2 ** 20 ? 1 : 0)} MB`;

function tooLarge(name, size) {
  return new Error(`${name} is ${mb(size)}; the page reads networks up to ${mb(MAX_MODEL_BYTES)} (the command line, attention-playground net, reads up to 2 GB). Save the weights alone, in float16 if they are float32.`);
}

/** The name a source is shown by in messages. */
export function modelName(source) {
  if (typeof source === 'string' || source instanceof URL) return decodeURIComponent(String(source).split(/[?#]/)[0].split('/').pop() || String(source));
  return source?.name || 'the network';
}

/**
 * Reads a stream of `total` bytes (0 when unknown) into one ArrayBuffer, reporting
 * `onProgress(loaded, total)`; past MAX_MODEL_BYTES it stops and throws `tooLargeError(bytes)`.
 */
export async function readStream(stream, total, onProgress, tooLargeError) {
  const reader = stream.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    if (loaded > MAX_MODEL_BYTES) {
      reader.cancel();
      throw tooLargeError(loaded);
    }
    onProgress?.(loaded, total);
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out.buffer;
}

/**
 * The checkpoint's bytes, and a Blob to read them again from (a new engine after a backend
 * switch opens the network again without another download). `onProgress(loaded, total)`.
 */
export async function readModel(source, onProgress) {
  const name = modelName(source);
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    const bytes = source instanceof ArrayBuffer ? source.slice(0) : source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength);
    if (bytes.byteLength > MAX_MODEL_BYTES) throw tooLarge(name, bytes.byteLength);
    return { bytes, blob: new Blob([bytes]), name };
  }
  if (source instanceof Blob) {
    if (source.size > MAX_MODEL_BYTES) throw tooLarge(name, source.size);
    const bytes = await readStream(source.stream(), source.size, onProgress, (n) => tooLarge(name, n));
    return { bytes, blob: source, name };
  }
  if (typeof source === 'string' || source instanceof URL) {
    const url = new URL(String(source), document.baseURI).href;
    let response;
    try {
      response = await fetch(url);
    } catch {
      throw new Error(`The network at ${url} could not be fetched: the host did not answer, or it does not let this page read the file (CORS). Host the checkpoint beside the page, or have its host send Access-Control-Allow-Origin: *.`);
    }
    if (!response.ok) {
      throw new Error(`The network at ${url} could not be fetched: the host answered ${response.status} ${response.statusText || ''}`.trimEnd() + '. Check the model address.');
    }
    const total = Number(response.headers.get('content-length')) || 0;
    if (total > MAX_MODEL_BYTES) throw tooLarge(name, total);
    const bytes = await readStream(response.body, total, onProgress, (n) => tooLarge(name, n));
    return { bytes, blob: new Blob([bytes]), name };
  }
  throw new Error('loadModel() takes a File or Blob, an ArrayBuffer or typed array, or a URL of a checkpoint; pass one of those.');
}

/** Whether a dropped or picked file is a photo (otherwise it is taken for a checkpoint). */
export function isPhotoFile(file) {
  if (file.type?.startsWith('image/')) return true;
  if (/\.(safetensors|pth|pt|bin|ckpt|pkl|npz|h5|gguf)$/i.test(file.name ?? '')) return false;
  return /\.(jpe?g|png|webp|gif|bmp|svg|avif|heic|heif|ico)$/i.test(file.name ?? '');
}

// The architectures to pick from where the weights do not tell (the engine says which family).
const EFFICIENTNETS = ['efficientnet_b0', 'efficientnet_b1', 'efficientnet_b2', 'efficientnet_b3', 'efficientnet_b4',
  'tf_efficientnet_b0', 'tf_efficientnet_b1', 'tf_efficientnet_b2', 'tf_efficientnet_b3'];
const MOBILENETS = ['mobilenetv3_large_100', 'mobilenetv3_small_100'];
// MNASNet's strides are EfficientNet's; its ReLU is what the weights cannot tell (PP-LCNet's keys tell it).
const MNASNETS = ['mnasnet_100', 'semnasnet_100', 'mnasnet_small'];
// MixNet's strides are in no key either (tf_ ports: TensorFlow's padding and BatchNorm eps).
const MIXNETS = ['mixnet_s', 'mixnet_m', 'mixnet_l', 'tf_mixnet_s', 'tf_mixnet_m', 'tf_mixnet_l'];
// timm's ByobNets (ResNets, BoTNets, RegNetZs): the activation, the stem's pooling and the strides are in the name only.
const BYOBNETS = ['resnext26ts', 'gcresnext26ts', 'seresnext26ts', 'eca_resnext26ts', 'gcresnext50ts', 'resnet32ts',
  'resnet33ts', 'gcresnet33ts', 'seresnet33ts', 'eca_resnet33ts', 'gcresnet50t', 'botnet26t_256', 'eca_botnext26ts_256',
  'sebotnet33ts_256', 'botnet50ts_256', 'regnetz_b16', 'regnetz_c16', 'regnetz_d8', 'regnetz_d32', 'regnetz_e8'];
export const ARCH_CHOICES = {
  'timm ByobNet': BYOBNETS,
  timm: [...EFFICIENTNETS, ...MOBILENETS, ...MNASNETS, ...MIXNETS],
  'torchvision EfficientNet': Array.from({ length: 8 }, (_, i) => `torchvision.efficientnet_b${i}`),
  'torchvision MobileNetV3': ['torchvision.mobilenet_v3_large', 'torchvision.mobilenet_v3_small'],
};

/** The architectures to offer after the engine's message `text` asked for one, or null. */
export function archChoices(text) {
  if (!/name it/.test(text)) return null;
  if (/torchvision EfficientNet/.test(text)) return ARCH_CHOICES['torchvision EfficientNet'];
  if (/torchvision MobileNetV3/.test(text)) return ARCH_CHOICES['torchvision MobileNetV3'];
  if (/timm ByobNet/.test(text)) return ARCH_CHOICES['timm ByobNet'];
  return ARCH_CHOICES.timm;
}

/** The engine's request for an architecture, in the page's words (the list is beside it). */
export function pickMessage(text) {
  return text.replace(/:?\s*name it,? (e\.g\.|as) .*$|:\s*name it.*$/, '') + '. Pick it from the list beside the network\'s name (in an embed: the arch attribute).';
}
