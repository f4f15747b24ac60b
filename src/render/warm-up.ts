import { emailTemplate, emailTemplateExists, mjmlToHtml } from './email-templates.js';

// The first MJML render in a process costs about 0.35 s (loading mjml and its components, and V8
// compiling them), and it used to land on the first alert's time to first mail. A worker pays it
// at start instead.

const WARM_UP_DOCUMENT = `<mjml><mj-head><mj-title>warm-up</mj-title></mj-head><mj-body><mj-section><mj-column>
<mj-image src="https://example.org/a.png" alt="" /><mj-text>warm-up</mj-text><mj-button href="https://example.org/">x</mj-button>
<mj-divider /><mj-table><tr><td>x</td></tr></mj-table></mj-column></mj-section></mj-body></mjml>`;

/** Loads MJML, renders a small document with the components the templates use, and compiles the alert templates. */
export function warmEmailRenderer(): void {
  for (const name of ['alert.mjml.hbs', 'alert.txt.hbs']) if (emailTemplateExists(name)) emailTemplate(name);
  mjmlToHtml(WARM_UP_DOCUMENT, 'warm-up');
}

/** The same, after the current turn of the event loop, so starting the workers is not held up. */
export function warmEmailRendererSoon(onError: (err: Error) => void): Promise<void> {
  return new Promise((resolve) =>
    setImmediate(() => {
      try {
        warmEmailRenderer();
      } catch (err) {
        onError(err as Error);
      }
      resolve();
    }),
  );
}
