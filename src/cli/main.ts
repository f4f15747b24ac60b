import { Command } from 'commander';
import { registerServeCommands } from './commands/serve.js';
import { registerAlertCommands } from './commands/alerts.js';
import { registerSubscriberCommands } from './commands/subscribers.js';
import { registerStatusCommand } from './commands/status.js';
import { registerRetryCommand } from './commands/retry.js';
import { registerFollowUpCommands } from './commands/follow-up.js';
import { registerConfigCommands } from './commands/config.js';
import { registerChannelCommands } from './commands/channels.js';
import { registerDkimCommands } from './commands/dkim.js';
import { registerKeysCommands } from './commands/keys.js';

const program = new Command('tocsin')
  .description('Deliver mass-atrocity alerts to subscribers and social accounts, exactly once, with a delivery log.')
  .version('0.1.0');

registerServeCommands(program);
registerAlertCommands(program);
registerSubscriberCommands(program);
registerStatusCommand(program);
registerRetryCommand(program);
registerFollowUpCommands(program);
registerConfigCommands(program);
registerChannelCommands(program);
registerDkimCommands(program);
registerKeysCommands(program);

await program.parseAsync(process.argv);
