import type { Config } from '../config/schema.js';
import { alertInputSchema, newAlert } from '../domain/alert.js';
import { renderAlertEmail } from './email.js';

// The first MJML render in a process costs 0.35-0.7 s (loading mjml and its components, V8
// compiling them), and it used to land on the first alert's time to first mail. A worker pays it
// at start instead, by rendering a sample alert that uses every part of the template (image,
// stages, recommendations, attachments) twice: the second pass lets V8 optimise the hot paths.

const SAMPLE = alertInputSchema.parse({
  level: 'warning',
  countries: ['KZ', 'UA'],
  region: 'Warm-up region',
  title: 'Warm-up alert (never sent)',
  summary: 'Rendered once when a worker starts so that the first real alert is not slowed down.',
  body: '## Background\n\nA **paragraph** with a [link](https://example.org/) and a list:\n\n- one\n- two\n\n> a quote',
  stages: [{ number: 4, name: 'Dehumanization' }],
  recommendations: ['Do this.', 'Then that.'],
  image: { url: 'https://example.org/a.jpg', alt: 'x', caption: 'y', credit: 'z', creditUrl: 'https://example.org/' },
  attachments: [{ url: 'https://example.org/a.pdf', title: 'A', mediaType: 'application/pdf', bytes: 1000 }],
  canonicalUrl: 'https://example.org/alerts/warm-up',
  issuedAt: '2022-01-08T12:00:00Z',
});

/** Renders the sample alert's email twice with this configuration (its templates, its colours). */
export async function warmEmailRenderer(config: Config): Promise<void> {
  const alert = newAlert(SAMPLE);
  await renderAlertEmail(alert, config);
  await renderAlertEmail(alert, config);
}

/** The same, after the current turn of the event loop, so starting the workers is not held up. */
export function warmEmailRendererSoon(config: Config, onError: (err: Error) => void): Promise<void> {
  return new Promise((resolve) =>
    setImmediate(() => {
      warmEmailRenderer(config)
        .catch((err: unknown) => onError(err as Error))
        .finally(resolve);
    }),
  );
}
