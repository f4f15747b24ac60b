import { HONEYPOT } from './input.js';

/** The copy-and-paste form for the organisation's own site (README "Embedding the form"). */
export function embedSnippet(base: string): string {
  return `<form action="${base}/subscribe" method="post">
  <label for="tocsin-email">Email address</label>
  <input type="email" id="tocsin-email" name="email" autocomplete="email" required>
  <input type="hidden" name="scope" value="all">
  <label for="tocsin-level">Which alerts?</label>
  <select id="tocsin-level" name="level">
    <option value="all">Everything, including reports</option>
    <option value="watch">Genocide Watch and above</option>
    <option value="warning">Genocide Warning and above</option>
    <option value="emergency">Genocide Emergency only</option>
  </select>
  <div style="position:absolute;left:-10000px" aria-hidden="true">
    <label for="tocsin-${HONEYPOT}">Leave this field empty</label>
    <input type="text" id="tocsin-${HONEYPOT}" name="${HONEYPOT}" tabindex="-1" autocomplete="off">
  </div>
  <button type="submit">Subscribe</button>
</form>`;
}
