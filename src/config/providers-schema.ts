import { z } from 'zod';
import { configSchema, socialAccountSchemaFor } from './schema.js';
import type { ProviderRegistry } from '../channels/providers.js';

/** The configuration schema whose social accounts may name exactly the registry's providers. */
export function configSchemaFor(providers: ProviderRegistry) {
  return configSchema.extend({ social: z.array(socialAccountSchemaFor(providers.names)).default([]) });
}
