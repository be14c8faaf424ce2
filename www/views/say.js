// One line of text where a view has nothing to draw, saying what to do.
export function say(ctx, text) {
  ctx.font = '14px system-ui, sans-serif';
  ctx.fillStyle = '#6b6b76';
  ctx.fillText(text, 0, 30);
  return { height: 60 };
}
