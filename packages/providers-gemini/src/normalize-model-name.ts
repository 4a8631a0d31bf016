/**
 * The bare model id Google's URLs and the Code Assist envelope expect: clients may send
 * `models/gemini-2.5-pro` (the resource name) or `gemini-2.5-pro`.
 */
export function normalizeModelName(model: string): string {
  const trimmed = model.trim();
  return trimmed.startsWith("models/") ? trimmed.slice("models/".length) : trimmed;
}
