// The process environment, read here and nowhere else outside src/config/: secrets named by the
// configuration (credentialsEnv, secretEnv, tokens) and who runs a CLI command.

/** The environment secrets are read from (tests pass their own). */
export const processEnvironment = (): NodeJS.ProcessEnv => process.env;

/** Who a CLI command acts as, in the audit log: "cli:<login>". */
export const cliActor = (): string => `cli:${process.env.USER ?? process.env.LOGNAME ?? 'unknown'}`;
