// Imports every module that defines Lua scripts, so that registerScripts() registers all of them
// on each new connection (src/store/redis.ts). A store with a script is listed here.
import './ledger.js';
import './thread-parts.js';
import './publications.js';
import './activity.js';
import './subscribers.js';
import './alerts.js';
import './subscription-scripts.js';
import './subscriber-import.js';
import './versions.js';
import './auth-scripts.js';

export { registerScripts } from './lua.js';
