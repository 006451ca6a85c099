/**
 * ACL rules allowing keys under `prefix`, the channels given (none: `resetchannels` alone) and
 * the commands of `groups` (each once), nothing else.
 */
export function aclRules(
  prefix: string,
  channels: readonly string[],
  groups: Readonly<Record<string, readonly string[]>>,
): string {
  const commands = [...new Set<string>(Object.values(groups).flat())];
  return [
    `~${prefix}*`,
    "resetchannels",
    ...channels.map((channel) => `&${channel}`),
    "-@all",
    ...commands.map((command) => `+${command}`),
  ].join(" ");
}
