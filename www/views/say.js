// Where a view has nothing to draw: what to do, wrapped to the drawing's width.
import { paragraph } from '../drawing.js';

export function say(ctx, text) {
  return { height: paragraph(ctx, text, 0, 20) + 40 };
}
