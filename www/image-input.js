// Turns whatever a person or a script hands us (a File or Blob, a URL, an <img>, an ImageBitmap)
// into two scaled copies: the pixels the engine sees (longer side 224) and a sharper copy to draw
// under the maps. Everything stays in this page: nothing is uploaded anywhere.

/** Files above this are refused before decoding (a 12000 x 12000 JPEG is well under it). */
export const MAX_FILE_BYTES = 100 * 1024 * 1024;
/** Longer side of the copy drawn on screen. */
const DISPLAY_SIDE = 896;
/** Images whose pixel count the browser could not hold decoded (16384^2 RGBA is 1 GiB). */
const MAX_PIXELS = 16384 * 16384;

export class ImageInputError extends Error {}

function describe(source) {
  return source?.name ? `"${source.name}"` : 'the image';
}

async function blobToImage(blob) {
  if (blob.size === 0) throw new ImageInputError(`${describe(blob)} is empty (0 bytes). Choose a photo (JPEG, PNG, WebP, GIF or SVG).`);
  if (blob.size > MAX_FILE_BYTES) {
    throw new ImageInputError(`${describe(blob)} is ${(blob.size / 2 ** 20).toFixed(0)} MB; the limit is ${MAX_FILE_BYTES / 2 ** 20} MB.`);
  }
  if (blob.type && !blob.type.startsWith('image/')) {
    throw new ImageInputError(`${describe(blob)} is not an image (${blob.type}). Choose a photo (JPEG, PNG, WebP, GIF or SVG).`);
  }
  const url = URL.createObjectURL(blob);
  try {
    const img = new Image();
    img.decoding = 'async';
    await new Promise((resolve, reject) => {
      img.onload = resolve;
      img.onerror = () => reject(new ImageInputError(`${describe(blob)} could not be read as an image: the file is damaged or not an image format this browser decodes.`));
      img.src = url;
    });
    return img;
  } finally {
    // The <img> keeps its decoded data; the URL is not needed once it has loaded.
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }
}

async function toDrawable(source) {
  if (typeof source === 'string' || source instanceof URL) {
    let response;
    try {
      response = await fetch(source);
    } catch (e) {
      throw new ImageInputError(`Could not load ${source}: ${e.message}`);
    }
    if (!response.ok) throw new ImageInputError(`Could not load ${source}: the server answered ${response.status}.`);
    const blob = await response.blob();
    return blobToImage(new File([blob], String(source).split('/').pop() || 'image', { type: blob.type }));
  }
  if (source instanceof Blob) return blobToImage(source);
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement) {
    if (!source.complete) {
      await new Promise((resolve) => {
        source.addEventListener('load', resolve, { once: true });
        source.addEventListener('error', resolve, { once: true }); // judged by naturalWidth below
      });
    }
    if (!source.naturalWidth && !source.src.endsWith('.svg')) throw new ImageInputError('The <img> has no picture loaded (it failed to load or is empty).');
    return source;
  }
  if (typeof ImageBitmap !== 'undefined' && source instanceof ImageBitmap) return source;
  if (source instanceof HTMLCanvasElement || (typeof OffscreenCanvas !== 'undefined' && source instanceof OffscreenCanvas)) return source;
  throw new ImageInputError('run() takes a File or Blob, an ImageBitmap, an <img> element or an image URL.');
}

function sizeOf(drawable) {
  const width = drawable.naturalWidth ?? drawable.width;
  const height = drawable.naturalHeight ?? drawable.height;
  // An SVG without a width and height has no natural size: draw it square.
  return width && height ? { width, height } : { width: 512, height: 512 };
}

function scaledCanvas(drawable, width, height) {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.fillStyle = '#fff'; // transparent pixels (PNG, SVG, GIF) read as white, as they look on a page
  ctx.fillRect(0, 0, width, height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(drawable, 0, 0, width, height);
  return canvas;
}

/**
 * Decodes `source` and scales it. `workingSize(w, h)` is the engine's rule (longer side 224).
 * Resolves to `{ rgba, width, height, display, originalWidth, originalHeight, name }`.
 */
export async function loadImage(source, workingSize) {
  const drawable = await toDrawable(source);
  const { width: originalWidth, height: originalHeight } = sizeOf(drawable);
  if (originalWidth * originalHeight > MAX_PIXELS) {
    throw new ImageInputError(`${describe(source)} is ${originalWidth} x ${originalHeight} pixels, more than a browser can decode; scale it below 16384 x 16384.`);
  }
  const { width, height } = await workingSize(originalWidth, originalHeight);
  const scale = Math.min(1, DISPLAY_SIDE / Math.max(originalWidth, originalHeight));
  const display = scaledCanvas(drawable, Math.max(1, Math.round(originalWidth * scale)), Math.max(1, Math.round(originalHeight * scale)));
  // Scale from the display copy: one big downscale of a huge photo happens once.
  const small = scaledCanvas(display, width, height);
  const rgba = small.getContext('2d').getImageData(0, 0, width, height).data;
  return { rgba, width, height, display, originalWidth, originalHeight, name: source?.name ?? (typeof source === 'string' ? source.split('/').pop() : 'image') };
}
