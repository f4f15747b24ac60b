import type { Context } from '../context.js';
import type { CapSigner } from './cap/cap-message.js';
import type { PublicSite } from './site.js';

/** What every public route plugin is registered with. */
export interface PublicRouteOptions {
  ctx: Context;
  site: PublicSite;
  /** Signs CAP messages (XML-DSig); unsigned by default. */
  signCap: CapSigner;
}
