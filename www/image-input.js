// Turns whatever a person or a script hands us (a File or Blob, a URL, an <img>, an ImageBitmap,
// a canvas) into the photo the engine sees. The page only gathers the source; the worker checks
// the file's header, decodes, turns it upright, composites it on white and scales it (the photo
// contract of src/photo.rs, which `render` follows too), so a huge photo never freezes the page.
// Everything stays in this page: nothing is uploaded anywhere.

/** Files above this are refused before decoding; the worker checks it again (src/photo.rs). */
export const MAX_FILE_BYTES = 100 * 1024 * 1024;
/** Longer side a vector image (SVG) is drawn at: src/photo.rs's PRESCALE_SIDE. */
const SVG_SIDE = 1024;

export class ImageInputError extends Error {}

export function describe(source) {
  return source?.name ? `"${source.name}"` : 'the image';
}

/** The message for a photo the browser will not let this page read (no CORS). */
function crossOriginMessage(where) {
  return `${where} comes from another site that does not let this page read its pixels (it sends no Access-Control-Allow-Origin header). ` +
    'Download the photo and choose the file, or serve it with that header and give the <img> crossorigin="anonymous".';
}

function isSvg(blob, head) {
  return blob.type === 'image/svg+xml' || /^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<svg[\s>]/i.test(head);
}

// An SVG needs the DOM to be drawn, so it is rasterised here, at its own size (or 512 x 512
// where it has none) with the longer side at most SVG_SIDE. Vector images are cheap to draw.
async function svgToBitmap(blob) {
  const url = URL.createObjectURL(blob);
  try {
    const img = new Image();
    await new Promise((resolve, reject) => {
      img.onload = resolve;
      img.onerror = () => reject(new ImageInputError(`${describe(blob)} could not be read as an image: the SVG is damaged.`));
      img.src = url;
    });
    let width = img.naturalWidth || 512;
    let height = img.naturalHeight || 512;
    const scale = Math.min(1, SVG_SIDE / Math.max(width, height));
    width = Math.max(1, Math.round(width * scale));
    height = Math.max(1, Math.round(height * scale));
    const canvas = new OffscreenCanvas(width, height);
    canvas.getContext('2d').drawImage(img, 0, 0, width, height);
    return canvas.transferToImageBitmap();
  } finally {
    URL.revokeObjectURL(url);
  }
}

async function fetchBlob(source) {
  const where = String(source);
  let response;
  try {
    response = await fetch(source);
  } catch {
    const sameOrigin = new URL(where, location.href).origin === location.origin;
    throw new ImageInputError(sameOrigin
      ? `Could not load ${where}: the server did not answer. Check the address, or choose the file instead.`
      : `Could not load ${where}: ${crossOriginMessage('it').replace(' and give the <img> crossorigin="anonymous"', '')}`);
  }
  if (!response.ok) throw new ImageInputError(`Could not load ${where}: the server answered ${response.status}. Check the address, or choose the file instead.`);
  const blob = await response.blob();
  return new File([blob], decodeURIComponent(new URL(where, location.href).pathname.split('/').pop()) || 'image', { type: blob.type });
}

async function elementToBitmap(img) {
  if (!img.complete) {
    await new Promise((resolve) => {
      img.addEventListener('load', resolve, { once: true });
      img.addEventListener('error', resolve, { once: true }); // judged below
    });
  }
  if (!img.naturalWidth && !/\.svg($|\?)/i.test(img.currentSrc || img.src)) {
    throw new ImageInputError('The <img> has no picture loaded (it failed to load or is empty). Check its src, or pass a File instead.');
  }
  try {
    return await createImageBitmap(img, { colorSpaceConversion: 'none' });
  } catch {
    // An <img> SVG without a size: draw it as the blob path does.
    if (img.currentSrc || img.src) return { url: img.currentSrc || img.src };
    throw new ImageInputError('The <img> could not be read as an image.');
  }
}

/**
 * What the worker's `decode` takes: `{ blob, name }` or `{ bitmap, name }`, and the objects to
 * transfer. Throws an ImageInputError for what cannot be a photo.
 */
export async function gather(source) {
  if (typeof source === 'string' || source instanceof URL) source = await fetchBlob(source);
  if (source instanceof Blob) {
    const name = source.name || 'image';
    if (source.size === 0) throw new ImageInputError(`${describe(source)} is empty (0 bytes). Choose a photo (JPEG, PNG, WebP, GIF or SVG).`);
    if (source.size > MAX_FILE_BYTES) {
      throw new ImageInputError(`${describe(source)} is ${(source.size / 2 ** 20).toFixed(0)} MB; the limit is ${MAX_FILE_BYTES / 2 ** 20} MB. Save it smaller: the networks work at 224 pixels at most.`);
    }
    if (source.type && !source.type.startsWith('image/')) {
      throw new ImageInputError(`${describe(source)} is not an image (${source.type}). Choose a photo (JPEG, PNG, WebP, GIF or SVG).`);
    }
    const head = await source.slice(0, 512).text();
    if (isSvg(source, head)) return { message: { bitmap: await svgToBitmap(source), name }, transfer: [] };
    return { message: { blob: source, name }, transfer: [] };
  }
  let bitmap;
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement) {
    bitmap = await elementToBitmap(source);
    if (bitmap.url) return gather(bitmap.url);
  } else if (typeof ImageBitmap !== 'undefined' && source instanceof ImageBitmap) {
    bitmap = await createImageBitmap(source); // a copy: the caller keeps theirs
  } else if ((typeof HTMLCanvasElement !== 'undefined' && source instanceof HTMLCanvasElement) || (typeof OffscreenCanvas !== 'undefined' && source instanceof OffscreenCanvas)) {
    bitmap = await createImageBitmap(source);
  } else {
    throw new ImageInputError('run() takes a File or Blob, an ImageBitmap, an <img> element, a canvas or an image URL; pass one of those.');
  }
  const name = source.currentSrc ? decodeURIComponent(new URL(source.currentSrc).pathname.split('/').pop()) : 'image';
  return { message: { bitmap, name }, transfer: [bitmap], origin: source.currentSrc ? `The <img> at ${source.currentSrc}` : 'The image' };
}

/**
 * Gathers `source` and has `engine`'s worker decode and scale it. Resolves to
 * `{ rgba, width, height, display, originalWidth, originalHeight, name }`: `rgba` at the working
 * size, `display` an ImageBitmap (longer side at most 896) to draw under the maps.
 */
export async function loadImage(source, engine) {
  const { message, transfer, origin } = await gather(source);
  try {
    return await engine.call('decode', message, transfer);
  } catch (e) {
    // A cross-origin <img> or canvas: its bitmap cannot cross to the worker, or be read there.
    if (e?.name === 'DataCloneError' || e?.name === 'SecurityError' || /tainted|cross-origin|DataCloneError/i.test(e?.message ?? '')) {
      throw new ImageInputError(crossOriginMessage(origin ?? 'The image'));
    }
    throw e;
  }
}
